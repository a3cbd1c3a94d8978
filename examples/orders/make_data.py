"""Writes the orders example's data files, deterministically. Run from this directory:
python3 make_data.py. The files are committed; this script documents how they were made."""
import csv, gzip, io, json, random

rng = random.Random(7)
STATUSES = ["placed", "paid", "shipped", "cancelled"]
CITIES = [("Lyon", "FR"), ("Porto", "PT"), ("Graz", "AT"), ("Turku", "FI")]
next_id = [1000]


def order(day, **extra):
    next_id[0] += 1
    city, country = rng.choice(CITIES)
    o = {
        "order_id": next_id[0],
        "ordered_at": f"2026-03-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
        "customer_email": f"c{rng.randint(1, 500)}@example.com",
        "status": rng.choice(STATUSES),
        "quantity": rng.randint(1, 9),
        "amount": round(rng.uniform(3, 400), 2),
    }
    if rng.random() < 0.5:
        o["shipping"] = {"city": city, "country": country}
    if rng.random() < 0.3:
        o["note"] = rng.choice(["gift", "leave at door", "fragile"])
    o.update(extra)
    return o


def ndjson(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def write(name, text):
    with open(f"data/{name}", "w") as f:
        f.write(text)


write("orders-2026-03-01.ndjson", ndjson(order(1) for _ in range(20)))

rows = [order(2) for _ in range(20)]
rows[5]["quantity"] = "two"          # wrong type
del rows[12]["customer_email"]       # missing required field
write("orders-2026-03-02-some-invalid.ndjson", ndjson(rows))

lines = ndjson(order(3) for _ in range(10)).splitlines()
lines[3] = lines[3][:25]              # cut mid-object
lines[4] = "{not json at all"
lines[6] = '{"order_id": 7, "ordered_at": '
lines[7] = "]"
write("orders-2026-03-03-malformed.ndjson", "\n".join(lines) + "\n")

buf = io.StringIO()
w = csv.writer(buf, lineterminator="\n")
cols = ["order_id", "ordered_at", "customer_email", "status", "quantity", "amount", "note"]
w.writerow(cols)
for _ in range(10):
    o = order(4)
    w.writerow([o.get(c, "") for c in cols])
write("orders-2026-03-04.csv", buf.getvalue())

with open("data/orders-2026-03-05.ndjson.gz", "wb") as f:
    f.write(gzip.compress(ndjson(order(5) for _ in range(15)).encode(), mtime=0))

write("orders-2026-03-06-coupon.ndjson", ndjson(order(6, coupon=rng.choice(["SPRING", "VIP10"])) for _ in range(10)))

write("orders-2026-03-07-quantity-as-text.ndjson", ndjson(order(7, quantity=f"{i + 1} units") for i in range(5)))
