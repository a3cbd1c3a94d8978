//! Parallel states: every branch on the same input, the first failure failing the state.

use super::*;

impl Inner {
    pub(super) async fn parallel(
        self: Arc<Self>,
        scope: &str,
        state: &State,
        entered: u64,
        effective: &Value,
        ctx: &Bindings,
        resume: Option<Children>,
    ) -> Result<Value, StatesError> {
        let Body::Parallel(p) = &state.body else {
            return Err(StatesError::runtime("not a Parallel"));
        };
        let input = arguments(state, effective, ctx)?;
        let mut resume = resume.unwrap_or_default();
        self.push(
            scope,
            kinds::PARALLEL_STATE_STARTED,
            Value::Null,
            reused(&resume.done),
        );
        let branches = p.branches.iter().enumerate().map(|(i, branch)| {
            let this = self.clone();
            let child = child_scope(scope, &state.name, entered, i);
            let done = resume.done.remove(&i);
            let partial = resume.partial.remove(&i);
            let branch = branch.clone();
            let input = input.clone();
            let variables = ctx.variables.nested(true);
            async move {
                if let Some(out) = done {
                    return Ok(out);
                }
                match partial {
                    Some(Resume::At {
                        state,
                        input,
                        children,
                        variables: assigned,
                    }) => {
                        let variables = variables.with(&assigned);
                        this.run_machine(child, branch, state, input, Some(children), variables)
                            .await
                    }
                    Some(Resume::Done(out)) => Ok(out),
                    None => {
                        let start = branch.start_at.clone();
                        this.run_machine(child, branch, start, input, None, variables)
                            .await
                    }
                }
            }
        });
        // The first failing branch fails the state; dropping the others stops them.
        match futures::future::try_join_all(branches).await {
            Ok(results) => {
                self.push(scope, kinds::PARALLEL_STATE_SUCCEEDED, Value::Null, None);
                Ok(Value::Array(results))
            }
            Err(e) => {
                self.push(
                    scope,
                    kinds::PARALLEL_STATE_FAILED,
                    json!({"error": e.error, "cause": e.cause}),
                    None,
                );
                Err(e)
            }
        }
    }
}
