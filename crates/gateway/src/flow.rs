//! How a phase lets a request go on, or answers it itself.

use http::Response;

use crate::body::ResBody;

/// The outcome of a phase that did not reject the request.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Go on to the next phase.
    Continue,
    /// The phase answered (a CORS preflight, a mock, the upstream's response).
    Reply(Response<ResBody>),
}
