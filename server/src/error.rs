//! The one HTTP error type of every JSON API: status codes are mapped in one place and the body has the earlier system's shape.
//!
//! Body: `{"error":{"code","message","status","details":[{field,message,code}]},"timestamp","request_id"}`.
//! Internal causes are logged, never sent.

use axum::{
    Json,
    extract::{FromRequest, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served, for error bodies; set by [`crate::request_id`].
    pub static REQUEST_ID: String;
}

/// One problem with one field of a request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the client sent it.
    pub field: String,
    /// What is wrong, for people.
    pub message: String,
    /// What is wrong, for programs.
    pub code: String,
}

/// Everything a JSON API can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No API route matches.
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    /// The route exists but not for this method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON of the wrong shape.
    #[error("the request body does not match the expected fields: {0}")]
    InvalidBody(String),
    /// The body is not declared as JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body exceeds the route's limit.
    #[error("the request body is larger than this route accepts")]
    PayloadTooLarge,
    /// Fields failed validation; `details` lists them.
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    /// A path or query parameter is malformed or out of range.
    #[error("invalid {field}: {message}")]
    BadParameter {
        field: &'static str,
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A domain rule refused the request; `code` is the rule's stable code, upper-cased.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// The caller went past its rate limit; `Retry-After` says when to come back.
    #[error("too many requests from this {who}; slow down")]
    RateLimited {
        who: &'static str,
        retry_after_s: u64,
    },
    /// A failure of ours; the cause is logged, the client sees a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A domain refusal with `reason` (a snake_case code) and its message.
    pub fn refused(status: StatusCode, reason: &str, message: impl ToString) -> Self {
        ApiError::Refused {
            status,
            code: reason.to_ascii_uppercase(),
            message: message.to_string(),
        }
    }

    /// A malformed parameter.
    pub fn bad(field: &'static str, message: impl ToString) -> Self {
        ApiError::BadParameter {
            field,
            message: message.to_string(),
        }
    }
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidBody(_) | ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Refused { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn code(&self) -> &str {
        match self {
            ApiError::RouteNotFound { .. } => "NOT_FOUND",
            ApiError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            ApiError::MalformedJson(_) => "MALFORMED_JSON",
            ApiError::InvalidBody(_) => "INVALID_BODY",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::BadParameter { .. } => "INVALID_PARAMETER",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Refused { code, .. } => code,
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
    timestamp: String,
    request_id: Option<String>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    status: u16,
    details: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error while serving a request");
        }
        let status = self.status();
        let parameter;
        let details = match &self {
            ApiError::Validation(fields) => fields.as_slice(),
            ApiError::BadParameter { field, message } => {
                parameter = [FieldError {
                    field: (*field).to_owned(),
                    message: message.clone(),
                    code: "invalid".into(),
                }];
                &parameter[..]
            }
            _ => &[],
        };
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                status: status.as_u16(),
                details,
            },
            timestamp,
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_s, .. } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_s),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => ApiError::InvalidBody(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedJson(other.body_text()),
        }
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s, so a bad body gets the structured error.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad("query", rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad("path", rejection.body_text())
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
