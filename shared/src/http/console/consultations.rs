//! The consultations in the console: the list, each one's page with its audit trail, and
//! moving its deadline (or reopening it) through the same use case as
//! `PATCH /api/admin/consultations/{id}`, naming the person in the audit log.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{forbidden, form, language, page_headers, to_sign_in};
use crate::domain::DeadlineRequest;
use crate::http::PageLanguage;
use crate::http::admin::AdminState;
use crate::http::error::ApiError;
use crate::http::intake::path_id;
use crate::http::kept::{KEPT_LISTED, kept_download};
use crate::http::session::{same_origin, session};
use crate::secretariat::AdminError;
use crate::site::console_pages::{
    CONSOLE_PATH, ConsultationForms, ConsultationView, DeadlineForm, FieldError, Frame,
    console_page_path, console_url, consultation_page, list_page,
};

pub(crate) async fn list(
    State(s): State<AdminState>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let mut records = Vec::new();
    for record in s.secretariat.consultations.list().await? {
        let overview = s.secretariat.overview(&record.consultation.id).await?;
        records.push((record, overview));
    }
    let token = id.form_token();
    let frame = Frame {
        lang,
        path: &format!("{CONSOLE_PATH}/"),
        signed_in: Some((&who.account.name, &token)),
    };
    let page = list_page(&frame, &records, s.secretariat.clock.now());
    Ok((page_headers(), page).into_response())
}

pub(crate) async fn page(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((session_id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let id = path_id(&raw)?;
    let token = session_id.form_token();
    render(
        &s,
        lang,
        &id,
        &who.account.name,
        &token,
        &ConsultationForms::default(),
        &[],
        StatusCode::OK,
    )
    .await
}

/// The consultation's console page, with what its forms were given and their errors.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn render(
    s: &AdminState,
    lang: crate::domain::Language,
    id: &crate::domain::ConsultationId,
    name: &crate::domain::account::AccountName,
    token: &str,
    forms: &ConsultationForms<'_>,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response, ApiError> {
    let record = s
        .secretariat
        .consultations
        .get(id)
        .await?
        .ok_or_else(|| ApiError::no_consultation(id))?;
    let audit = s.secretariat.audit_log(id).await?;
    let kept = s.secretariat.kept(id, KEPT_LISTED).await?;
    let tally = s.secretariat.tally(id).await?;
    let path = console_page_path(id);
    let frame = Frame {
        lang,
        path: &path,
        signed_in: Some((name, token)),
    };
    let view = ConsultationView {
        record: &record,
        audit: &audit,
        kept: &kept,
        tally: &tally,
    };
    let page = consultation_page(&frame, &view, s.secretariat.clock.now(), forms, errors);
    Ok((status, page_headers(), page).into_response())
}

#[derive(serde::Deserialize)]
pub(crate) struct DeadlineFields {
    #[serde(default)]
    deadline: String,
    #[serde(default)]
    meeting_date: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
    lang: Option<String>,
}

pub(crate) async fn move_deadline(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let fields = form::<DeadlineFields>(&body);
    let lang = language(fields.as_ref().and_then(|f| f.lang.as_deref()), &headers);
    let Some((session_id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let Some(fields) = fields.filter(|f| session_id.accepts_form_token(&f.csrf)) else {
        return Ok(forbidden(lang));
    };
    if !same_origin(&s.console, &headers) {
        return Ok(forbidden(lang));
    }
    let id = path_id(&raw)?;
    let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let request = DeadlineRequest {
        deadline: given(&fields.deadline),
        meeting_date: given(&fields.meeting_date),
        reason: given(&fields.reason),
    };
    let by = Some(who.account.name.to_string());
    match s.secretariat.move_deadline(&id, request, by).await {
        Ok(_) => Ok(Redirect::to(&console_url(&console_page_path(&id), lang)).into_response()),
        Err(AdminError::Invalid(v)) => {
            let m = crate::i18n::messages(lang);
            let field = match v.field.as_str() {
                "meeting_date" => "meeting_date",
                "reason" => "reason",
                _ => "deadline",
            };
            let errors = [FieldError {
                field: field.into(),
                message: m.render(&v.message),
            }];
            let forms = ConsultationForms {
                deadline: DeadlineForm {
                    deadline: &fields.deadline,
                    meeting_date: &fields.meeting_date,
                    reason: &fields.reason,
                },
                ..ConsultationForms::default()
            };
            let token = session_id.form_token();
            render(
                &s,
                lang,
                &id,
                &who.account.name,
                &token,
                &forms,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A file kept for the consultation, as received: for a signed-in person only.
pub(crate) async fn kept_file(
    State(s): State<AdminState>,
    Path((raw, reason, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(None, &headers);
    if session(&s.people, &headers).await?.is_none() {
        return Ok(to_sign_in(lang));
    }
    let id = path_id(&raw)?;
    kept_download(&s.secretariat, &id, &reason, &name).await
}
