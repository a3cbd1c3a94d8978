//! sluice's end-to-end scenarios, one test binary of modules.

mod chaos;
mod chaos_drift;
mod chaos_versions;
mod contract;
mod drift_approval;
mod events;
mod exactly_once;
mod example;
mod gc;
mod group_commit;
mod hostile;
mod interop;
mod optimizers;
mod overwrite;
mod parquet;
mod reconcile;
mod replay;
mod rescue;
mod streams;
mod versions;
