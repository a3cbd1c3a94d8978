//! sluice-store: the object store port and the ledger kept in it.
//!
//! Every byte sluice reads or writes outside the Iceberg warehouse goes through one trait,
//! [`ObjectStore`], shaped after S3 (object versions, conditional writes, streaming bodies) so
//! that an S3 implementation can sit beside the local one without changing a caller. The
//! local implementation, [`LocalStore`], treats a directory as an unversioned bucket and gives
//! the same guarantees the exactly-once design leans on (DESIGN §5): atomic replace,
//! create-if-absent that exactly one racer wins, and compare-and-swap on the etag. The
//! [`Ledger`] is built only on those three operations, so it works on either store.
//!
//! # Layout
//! - [`store`]: the [`ObjectStore`] trait, object metadata, listings, conditional results, errors
//! - [`local`]: [`LocalStore`], a directory as a bucket; `copy` lands a local file in it
//!   (a clone where the file system can make one, else a copy hashed as it is written)
//! - [`ledger`]: [`Ledger`], one JSON record per object version under `.sluice/ledger/`
//! - [`identity`]: [`Identities`], each table's UUID and newest metadata location under
//!   `.sluice/tables/`, so a catalog that lost a table is noticed, never silently replaced

mod copy;
pub mod identity;
pub mod ledger;
pub mod local;
pub mod store;

pub use identity::{Identities, IdentityError, TableIdentity, VersionedIdentity};
pub use ledger::{Claim, CorruptRecord, Ledger, LedgerError, LedgerListing, VersionedRecord};
pub use local::LocalStore;
pub use store::{
    Conditional, DeleteMarker, GetObject, Listing, ListingMark, ObjectMeta, ObjectStore, StoreError,
};
