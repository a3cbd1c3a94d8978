//! One generated order, and how it is written: a nested NDJSON line for the `orders` table
//! or a flat CSV record for `orders_flat` (contracts in `fixtures/`).
//!
//! Rows are built from a seeded ChaCha stream, so a seed and a row count always give the
//! same bytes. A row the caller asks to break is broken in one of four ways, chosen at
//! random: a value of the wrong type, a missing required field, a value outside an
//! enum, or a line that is not a record at all (cut JSON, a CSV record with extra fields).
//! Each of them is rejected by sluice's contract check or reader, so the generator knows
//! exactly how many rows must land.

use std::io::{self, Write};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Order statuses; the contract's `status` enum.
const STATUSES: &[&str] = &["placed", "paid", "shipped", "cancelled", "returned"];
/// Customer tiers; the contract's `customer.tier` enum.
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivo", "Jana", "Kofi",
    "Lea", "Mateo", "Nora", "Oskar", "Priya",
];
const LAST_NAMES: &[&str] = &[
    "Berger",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
];
/// Notes carry no commas or quotes, so the CSV variant needs no quoting.
const NOTES: &[&str] = &[
    "leave at the door",
    "gift wrap please",
    "call before delivery",
    "fragile",
    "deliver to the back entrance after six in the evening",
];
/// Orders fall in the first week of March 2026: seven daily partitions.
const DAYS: u32 = 7;
/// Days in each month from March 2026 on (the timestamps' calendar).
const MONTH_DAYS: [(u32, u32, u32); 12] = [
    (2026, 3, 31),
    (2026, 4, 30),
    (2026, 5, 31),
    (2026, 6, 30),
    (2026, 7, 31),
    (2026, 8, 31),
    (2026, 9, 30),
    (2026, 10, 31),
    (2026, 11, 30),
    (2026, 12, 31),
    (2027, 1, 31),
    (2027, 2, 28),
];
/// Most days [`Order::random_over`] spreads orders over: a year from March 2026.
pub const MAX_DAYS: u32 = 365;

/// How a broken row is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    /// A number where text belongs or text where a number belongs.
    WrongType,
    /// A required field left out.
    MissingRequired,
    /// A status no one defined.
    BadEnum,
    /// Not a record: JSON cut in the middle, or a CSV record with too many fields.
    Malformed,
}

impl Breakage {
    fn pick(rng: &mut ChaCha8Rng) -> Breakage {
        match rng.random_range(0..4) {
            0 => Breakage::WrongType,
            1 => Breakage::MissingRequired,
            2 => Breakage::BadEnum,
            _ => Breakage::Malformed,
        }
    }
}

/// One line item.
struct Item {
    sku: u32,
    qty: u32,
    unit_price_cents: u64,
}

/// One order, before it is written.
pub struct Order {
    order_id: u64,
    /// Seconds since 2026-03-01T00:00:00Z.
    second: u32,
    customer_id: u32,
    first: &'static str,
    last: &'static str,
    tier: &'static str,
    items: Vec<Item>,
    status: &'static str,
    /// `None`: the field is absent; `Some(None)`: it is `null`.
    note: Option<Option<&'static str>>,
    breakage: Option<Breakage>,
}

impl Order {
    /// A random order with id `order_id`, placed in the first week of March 2026; broken (in
    /// a random way) when `broken`.
    pub fn random(rng: &mut ChaCha8Rng, order_id: u64, broken: bool) -> Order {
        Self::random_over(rng, order_id, broken, DAYS)
    }

    /// [`Order::random`], placed in any of `days` days from 1 March 2026 (at most
    /// [`MAX_DAYS`]): one daily partition each.
    pub fn random_over(rng: &mut ChaCha8Rng, order_id: u64, broken: bool, days: u32) -> Order {
        let days = days.clamp(1, MAX_DAYS);
        let n_items = rng.random_range(1..=5);
        let items = (0..n_items)
            .map(|_| Item {
                sku: rng.random_range(0..100_000),
                qty: rng.random_range(1..=10),
                unit_price_cents: rng.random_range(99..=49_999),
            })
            .collect();
        let note = match rng.random_range(0..20) {
            0..=14 => None,
            15 => Some(None),
            n => Some(Some(NOTES[n as usize % NOTES.len()])),
        };
        Order {
            order_id,
            second: rng.random_range(0..days * 86_400),
            customer_id: rng.random_range(1..=200_000),
            first: FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
            last: LAST_NAMES[rng.random_range(0..LAST_NAMES.len())],
            tier: TIERS[rng.random_range(0..TIERS.len())],
            items,
            status: STATUSES[rng.random_range(0..STATUSES.len())],
            note,
            breakage: broken.then(|| Breakage::pick(rng)),
        }
    }

    /// Whether sluice must commit this row.
    pub fn is_valid(&self) -> bool {
        self.breakage.is_none()
    }

    fn amount_cents(&self) -> u64 {
        self.items
            .iter()
            .map(|i| u64::from(i.qty) * i.unit_price_cents)
            .sum()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, `self.second` seconds after 1 March 2026.
    fn write_timestamp(&self, out: &mut impl Write) -> io::Result<()> {
        let s = self.second;
        let mut day = s / 86_400;
        let mut date = (2026, 3, 1);
        for &(year, month, length) in &MONTH_DAYS {
            if day < length {
                date = (year, month, 1 + day);
                break;
            }
            day -= length;
        }
        let (year, month, mday) = date;
        write!(
            out,
            "{year}-{month:02}-{mday:02}T{:02}:{:02}:{:02}Z",
            s / 3600 % 24,
            s / 60 % 60,
            s % 60
        )
    }

    /// One NDJSON line of the nested `orders` table, newline included.
    pub fn write_ndjson(&self, out: &mut impl Write) -> io::Result<()> {
        let broken = self.breakage;
        if broken == Some(Breakage::Malformed) {
            // A line cut short, as a crashed writer leaves it.
            return writeln!(
                out,
                "{{\"order_id\":{},\"ordered_at\":\"2026-03-0",
                self.order_id
            );
        }
        if broken == Some(Breakage::WrongType) {
            write!(
                out,
                "{{\"order_id\":\"{}\",\"ordered_at\":\"",
                self.order_id
            )?;
        } else {
            write!(out, "{{\"order_id\":{},\"ordered_at\":\"", self.order_id)?;
        }
        self.write_timestamp(out)?;
        write!(out, "\",\"customer\":{{\"id\":{}", self.customer_id)?;
        if broken != Some(Breakage::MissingRequired) {
            write!(out, ",\"email\":\"c{}@example.com\"", self.customer_id)?;
        }
        write!(
            out,
            ",\"name\":\"{} {}\",\"tier\":\"{}\"}},\"items\":[",
            self.first, self.last, self.tier
        )?;
        for (i, item) in self.items.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(
                out,
                "{sep}{{\"sku\":\"SKU-{:05}\",\"qty\":{},\"unit_price\":{}.{:02}}}",
                item.sku,
                item.qty,
                item.unit_price_cents / 100,
                item.unit_price_cents % 100
            )?;
        }
        let status = if broken == Some(Breakage::BadEnum) {
            "lost_in_transit"
        } else {
            self.status
        };
        let amount = self.amount_cents();
        write!(
            out,
            "],\"status\":\"{status}\",\"amount\":{}.{:02}",
            amount / 100,
            amount % 100
        )?;
        match self.note {
            None => {}
            Some(None) => write!(out, ",\"note\":null")?,
            Some(Some(note)) => write!(out, ",\"note\":\"{note}\"")?,
        }
        writeln!(out, "}}")
    }

    /// The header of the flat CSV variant.
    pub const CSV_HEADER: &'static str = "order_id,ordered_at,customer_id,customer_email,customer_name,customer_tier,status,item_count,amount,note";

    /// One CSV record of the flat `orders_flat` table, newline included. An empty cell is
    /// an absent field (a `null` note is written empty, like an absent one).
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let broken = self.breakage;
        write!(out, "{},", self.order_id)?;
        self.write_timestamp(out)?;
        write!(out, ",{},", self.customer_id)?;
        if broken != Some(Breakage::MissingRequired) {
            write!(out, "c{}@example.com", self.customer_id)?;
        }
        let status = if broken == Some(Breakage::BadEnum) {
            "lost_in_transit"
        } else {
            self.status
        };
        write!(out, ",{} {},{},{status},", self.first, self.last, self.tier)?;
        if broken == Some(Breakage::WrongType) {
            write!(out, "several")?;
        } else {
            write!(out, "{}", self.items.len())?;
        }
        let amount = self.amount_cents();
        write!(out, ",{}.{:02},", amount / 100, amount % 100)?;
        if let Some(Some(note)) = self.note {
            write!(out, "{note}")?;
        }
        if broken == Some(Breakage::Malformed) {
            // Two fields too many: the record does not fit the header.
            write!(out, ",extra,fields")?;
        }
        writeln!(out)
    }
}
