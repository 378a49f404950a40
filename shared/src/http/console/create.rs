//! Opening a consultation from the console, GOV.UK style: the form, then a check-your-answers
//! page that shows the deadline computed from the meeting date, then the same use case as
//! `POST /api/admin/consultations`, naming the person in the audit log.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{forbidden, language, page_headers, to_sign_in};
use crate::domain::{ConsultationRequest, Language, ValidationError};
use crate::http::PageLanguage;
use crate::http::admin::AdminState;
use crate::http::error::ApiError;
use crate::http::session::{same_origin, session};
use crate::ports::StoreError;
use crate::secretariat::AdminError;
use crate::site::console_pages::{
    FieldError, Frame, NewConsultation, check_page, console_page_path, console_url,
    new_consultation_page,
};

const PATH: &str = "/admin/consultations/new";

pub(crate) async fn form_page(
    State(s): State<AdminState>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let token = id.form_token();
    let frame = Frame {
        lang,
        path: PATH,
        signed_in: Some((&who.account.name, &token)),
    };
    let page = new_consultation_page(&frame, &NewConsultation::default(), &[]);
    Ok((page_headers(), page).into_response())
}

/// The form's fields, as sent (and sent again from the check page's hidden fields).
fn read(body: &[u8]) -> Option<NewConsultation> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let mut form = NewConsultation::default();
    for (name, value) in pairs {
        match name.as_str() {
            "id" => form.id = value,
            "meeting_date" => form.meeting_date = value,
            "opens_at" => form.opens_at = value,
            "csrf" => form.csrf = value,
            "action" => form.action = value,
            "lang" => form.lang = value,
            other => {
                if let Some(code) = other.strip_prefix("title_") {
                    form.title.insert(Language::parse(code)?, value);
                } else if let Some(code) = other.strip_prefix("questions_") {
                    form.questions.insert(Language::parse(code)?, value);
                } else if let Some(code) = other.strip_prefix("description_") {
                    form.description.insert(Language::parse(code)?, value);
                }
            }
        }
    }
    Some(form)
}

/// The API's title and questions made of the console's boxes: a title in each language given,
/// and question `i` from line `i` of each language's questions.
pub(super) fn title_and_questions(
    title: &BTreeMap<Language, String>,
    questions: &BTreeMap<Language, String>,
) -> (BTreeMap<String, String>, Vec<BTreeMap<String, String>>) {
    let title: BTreeMap<String, String> = title
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(l, t)| (l.code().to_owned(), t.trim().to_owned()))
        .collect();
    let lines: BTreeMap<Language, Vec<&str>> = questions
        .iter()
        .map(|(l, q)| (*l, q.lines().map(str::trim).collect::<Vec<_>>()))
        .collect();
    let count = lines
        .values()
        .map(|l| l.iter().rposition(|q| !q.is_empty()).map_or(0, |i| i + 1))
        .max()
        .unwrap_or(0);
    let questions = (0..count)
        .map(|i| {
            lines
                .iter()
                .filter_map(|(l, qs)| {
                    let q = qs.get(i).copied().unwrap_or_default();
                    (!q.is_empty()).then(|| (l.code().to_owned(), q.to_owned()))
                })
                .collect()
        })
        .collect();
    (title, questions)
}

/// The API's request body made of the form.
fn request(form: &NewConsultation) -> ConsultationRequest {
    let (title, questions) = title_and_questions(&form.title, &form.questions);
    let description: BTreeMap<String, String> = form
        .description
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(l, t)| (l.code().to_owned(), t.clone()))
        .collect();
    let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    ConsultationRequest {
        id: form.id.trim().to_owned(),
        title,
        questions,
        meeting_date: form.meeting_date.trim().to_owned(),
        opens_at: given(&form.opens_at),
        deadline: None,
        description: (!description.is_empty()).then_some(description),
    }
}

/// The form field a rule of the request names.
fn field_of(error: &ValidationError) -> &'static str {
    match error.field.as_str() {
        "id" => "id",
        "title" => "title_en",
        f if f.starts_with("questions") => "questions_en",
        "opens_at" => "opens_at",
        "description" => "description_en",
        _ => "meeting_date",
    }
}

pub(crate) async fn submit(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = read(&body);
    let lang = language(form.as_ref().map(|f| f.lang.as_str()), &headers);
    let Some((session_id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let Some(form) = form.filter(|f| session_id.accepts_form_token(&f.csrf)) else {
        return Ok(forbidden(lang));
    };
    if !same_origin(&s.console, &headers) {
        return Ok(forbidden(lang));
    }
    let m = crate::i18n::messages(lang);
    let token = session_id.form_token();
    let frame = Frame {
        lang,
        path: PATH,
        signed_in: Some((&who.account.name, &token)),
    };
    let again = |error: FieldError| {
        let page = new_consultation_page(&frame, &form, &[error]);
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page_headers(), page).into_response())
    };
    let request = request(&form);
    let now = s.secretariat.clock.now();
    let consultation = match request.clone().into_consultation(now) {
        Ok(c) => c,
        Err(e) => {
            return again(FieldError {
                field: field_of(&e).into(),
                message: m.render(&e.message),
            });
        }
    };
    let taken = FieldError {
        field: "id".into(),
        message: m.t("console_err_id_taken").to_owned(),
    };
    match form.action.as_str() {
        "create" => {
            let by = Some(who.account.name.to_string());
            match s.secretariat.open(request, by).await {
                Ok(record) => Ok(Redirect::to(&console_url(
                    &console_page_path(&record.consultation.id),
                    lang,
                ))
                .into_response()),
                Err(AdminError::Store(StoreError::Conflict(_))) => again(taken),
                Err(AdminError::Invalid(e)) => again(FieldError {
                    field: field_of(&e).into(),
                    message: m.render(&e.message),
                }),
                Err(e) => Err(e.into()),
            }
        }
        "edit" => {
            let page = new_consultation_page(&frame, &form, &[]);
            Ok((page_headers(), page).into_response())
        }
        _ => {
            if s.secretariat
                .consultations
                .get(&consultation.id)
                .await?
                .is_some()
            {
                return again(taken);
            }
            let page = check_page(&frame, &form, &consultation);
            Ok((page_headers(), page).into_response())
        }
    }
}
