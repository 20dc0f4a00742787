//! `/metrics`: the servers' commands install the process's Prometheus
//! recorder first thing (before any validator registers its counters),
//! unless `--no-metrics`.

use crate::Failure;

/// Installs the Prometheus recorder when `on`: each server then serves
/// `/metrics` on its own port.
pub(crate) fn enable(on: bool) -> Result<(), Failure> {
    if on {
        entra_metrics::install().map_err(|e| Failure::Failed(e.to_string()))?;
    }
    Ok(())
}
