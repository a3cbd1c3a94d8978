//! [`Services`]: what an execution runs with, besides its definition and input: the store
//! its history goes to, the task bindings, the clock, and the bucket access of distributed
//! Maps. The engine holds one and hands a copy to every run, so the interpreter depends on
//! these and not on the engine's API.

use std::sync::Arc;

use crate::clock::Clock;
use crate::items::Objects;
use crate::store::ExecutionStore;
use crate::task::Registry;

#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) store: ExecutionStore,
    pub(crate) registry: Arc<Registry>,
    pub(crate) clock: Arc<dyn Clock>,
    /// For ItemReader and ResultWriter; `None` fails them with their `States.*` error.
    pub(crate) objects: Option<Arc<dyn Objects>>,
}
