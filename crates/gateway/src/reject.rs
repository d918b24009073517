//! How a phase refuses a request: one type that says what kind of gateway response it becomes,
//! whose fault it was, and why (for the log only; clients see the kind's public message, or
//! the one set with [`Reject::saying`]).

use std::borrow::Cow;
use std::fmt;

use model::ResponseType;

/// Boxed error source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Whose fault a rejection is; decides the log level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The client sent something it should not have.
    Client,
    /// The upstream failed.
    Upstream,
    /// The gateway itself failed (config or bug).
    Internal,
}

/// Whether the connection may carry another request after the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Keep it open.
    KeepAlive,
    /// Close it: the request's framing cannot be trusted, or its body was not read.
    Close,
}

/// A request ended by the gateway with a gateway response.
pub(crate) struct Reject {
    /// Which gateway response to send.
    pub(crate) kind: ResponseType,
    /// Whose fault.
    pub(crate) blame: Blame,
    /// Keep or close the connection.
    pub(crate) connection: Connection,
    /// Why, for the log. Never sent to the client.
    pub(crate) context: Cow<'static, str>,
    /// The underlying error, for the log.
    pub(crate) source: Option<BoxError>,
    /// A public message that replaces the kind's default (`$context.error.message`), for
    /// errors whose text AWS varies, such as SigV4's.
    pub(crate) message: Option<String>,
    /// An `x-amzn-ErrorType` that replaces the kind's, where AWS sends a different one.
    pub(crate) error_type: Option<&'static str>,
}

// === impl Reject ===

impl Reject {
    /// A rejection caused by the client.
    pub(crate) fn client(kind: ResponseType, context: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            blame: Blame::Client,
            connection: Connection::KeepAlive,
            context: context.into(),
            source: None,
            message: None,
            error_type: None,
        }
    }

    /// A rejection caused by the upstream.
    pub(crate) fn upstream(
        kind: ResponseType,
        context: impl Into<Cow<'static, str>>,
        source: Option<BoxError>,
    ) -> Self {
        Self {
            kind,
            blame: Blame::Upstream,
            connection: Connection::KeepAlive,
            context: context.into(),
            source,
            message: None,
            error_type: None,
        }
    }

    /// A rejection caused by the gateway's own state.
    pub(crate) fn internal(kind: ResponseType, context: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            blame: Blame::Internal,
            connection: Connection::KeepAlive,
            context: context.into(),
            source: None,
            message: None,
            error_type: None,
        }
    }

    /// Records the error that caused the rejection (for the log).
    #[must_use]
    pub(crate) fn because(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Sends `message` to the client instead of the kind's default.
    #[must_use]
    pub(crate) fn saying(mut self, message: impl Into<String>, error_type: Option<&'static str>) -> Self {
        self.message = Some(message.into());
        self.error_type = error_type;
        self
    }

    /// Asks for the connection to be closed after the response.
    #[must_use]
    pub(crate) fn and_close(mut self) -> Self {
        self.connection = Connection::Close;
        self
    }
}

impl fmt::Debug for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reject")
            .field("kind", &self.kind)
            .field("blame", &self.blame)
            .field("connection", &self.connection)
            .field("context", &self.context)
            .field("source", &self.source.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.context)?;
        let mut source = self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
