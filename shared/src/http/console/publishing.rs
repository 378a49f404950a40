//! What the Secretariat publishes from a consultation's console page: its description, its
//! background documents and the Group's outcome, through the same use cases as
//! `PUT /api/admin/consultations/{id}/description`, `POST …/documents` and `POST …/outcome`
//! (the multipart forms are read by the API's own reader), naming the person in the audit log.
//! A form that breaks a rule comes back with its errors and what was typed; nothing is
//! published unless all of it passes.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::consultations::render;
use super::create::title_and_questions;
use super::{forbidden, language, to_sign_in};
use crate::domain::WordingRequest;
use crate::domain::account::AccountName;
use crate::domain::account::SessionId;
use crate::domain::{ConsultationId, Language};
use crate::http::admin::AdminState;
use crate::http::error::ApiError;
use crate::http::intake::path_id;
use crate::http::outcome::{ConsoleControls, Sender, Texts, read_parts};
use crate::http::session::{same_origin, session};
use crate::secretariat::AdminError;
use crate::site::console_pages::{
    ConsultationForms, FieldError, Wording, console_page_path, console_url,
};
use crate::site::console_publishing::{
    DOCUMENT_FILE_FIELD, OUTCOME_FILE_FIELD, description_field, outcome_text_field,
    wording_questions_field, wording_title_field,
};

/// Who is signed in, once the request has shown it came from this console: a session, a
/// request from this host (`Origin`), and (checked by the caller, once the form is read) the
/// session's form token.
struct Signed {
    session: SessionId,
    name: AccountName,
}

/// The session of a request from this host; else the response that refuses it.
async fn signed_in(
    s: &AdminState,
    headers: &HeaderMap,
    lang: Language,
) -> Result<Result<Signed, Response>, ApiError> {
    let Some((session, who)) = session(&s.people, headers).await? else {
        return Ok(Err(to_sign_in(lang)));
    };
    if !same_origin(&s.console, headers) {
        return Ok(Err(forbidden(lang)));
    }
    Ok(Ok(Signed {
        session,
        name: who.account.name,
    }))
}

/// A form of the console (urlencoded), sent from this host with the session's form token.
struct SignedForm {
    fields: Vec<(String, String)>,
    lang: Language,
    signed: Signed,
}

impl SignedForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// One box a language (`field_of` names it); every box is sent, and those left empty
    /// give no text.
    fn texts(&self, field_of: impl Fn(Language) -> String) -> BTreeMap<Language, String> {
        Language::ALL
            .into_iter()
            .filter_map(|l| Some((l, self.get(&field_of(l))?.to_owned())))
            .filter(|(_, t)| !t.trim().is_empty())
            .collect()
    }
}

/// The form in `body` with who sent it; else the response that refuses it (no session: to the
/// sign-in page; another origin, or not the session's form token: 403).
async fn signed_form(
    s: &AdminState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<SignedForm, Response>, ApiError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let lang_field = fields
        .iter()
        .find(|(n, _)| n == "lang")
        .map(|(_, v)| v.as_str());
    let lang = language(lang_field, headers);
    let signed = match signed_in(s, headers, lang).await? {
        Ok(signed) => signed,
        Err(refused) => return Ok(Err(refused)),
    };
    let form = SignedForm {
        fields,
        lang,
        signed,
    };
    if !form
        .get("csrf")
        .is_some_and(|t| form.signed.session.accepts_form_token(t))
    {
        return Ok(Err(forbidden(lang)));
    }
    Ok(Ok(form))
}

/// Back to the consultation's page, at the section that changed.
fn done(id: &ConsultationId, lang: Language, section: &str) -> Response {
    Redirect::to(&format!(
        "{}#{section}",
        console_url(&console_page_path(id), lang)
    ))
    .into_response()
}

/// The consultation's page again, with `errors` and what the forms were given (422).
async fn again(
    s: &AdminState,
    lang: Language,
    id: &ConsultationId,
    signed: &Signed,
    forms: &ConsultationForms<'_>,
    errors: &[FieldError],
) -> Result<Response, ApiError> {
    let token = signed.session.form_token();
    render(
        s,
        lang,
        id,
        &signed.name,
        &token,
        forms,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The error of a multipart form, on the field it names (`field_of` maps the API's field
/// names to the form's ids), in the page's language. A storage failure stays an error.
fn field_error(
    error: ApiError,
    lang: Language,
    field_of: impl Fn(&str) -> String,
    files: &str,
) -> Result<FieldError, ApiError> {
    let m = crate::i18n::messages(lang);
    let (field, message) = match error {
        ApiError::Invalid(v) => (field_of(&v.field), m.render(&v.message)),
        ApiError::TooLarge(text) | ApiError::Malformed(text) => (files.to_owned(), m.render(&text)),
        other => return Err(other),
    };
    Ok(FieldError {
        field: field.into(),
        message,
    })
}

/// The texts of a form by language, as typed (for showing them again).
fn texts_by_language(texts: &[(String, Vec<u8>)], prefix: &str) -> BTreeMap<Language, String> {
    texts
        .iter()
        .filter_map(|(name, text)| {
            let lang = Language::parse(name.strip_prefix(prefix)?)?;
            Some((lang, String::from_utf8_lossy(text).into_owned()))
        })
        .collect()
}

pub(crate) async fn describe(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = match signed_form(&s, &headers, &body).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let (lang, signed) = (form.lang, &form.signed);
    let id = path_id(&raw)?;
    let texts = form.texts(description_field);
    let raw_texts = texts
        .iter()
        .map(|(l, t)| (l.code().to_owned(), t.clone()))
        .collect();
    let by = Some(signed.name.to_string());
    match s.secretariat.describe(&id, raw_texts, by).await {
        Ok(_) => Ok(done(&id, lang, "description")),
        Err(AdminError::Invalid(v)) => {
            let m = crate::i18n::messages(lang);
            // The rule names the description; the box is the first language given (or English).
            let first = texts.keys().next().copied().unwrap_or(Language::En);
            let errors = [FieldError {
                field: description_field(first).into(),
                message: m.render(&v.message),
            }];
            let forms = ConsultationForms {
                description: Some(&texts),
                ..ConsultationForms::default()
            };
            again(&s, lang, &id, signed, &forms, &errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The title and questions reworded or translated: the same use case as
/// `PUT /api/admin/consultations/{id}/wording`.
pub(crate) async fn reword(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = match signed_form(&s, &headers, &body).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let (lang, signed) = (form.lang, &form.signed);
    let id = path_id(&raw)?;
    let wording = Wording {
        title: form.texts(|l| format!("title_{}", l.code())),
        questions: form.texts(|l| format!("questions_{}", l.code())),
    };
    let (title, questions) = title_and_questions(&wording.title, &wording.questions);
    let request = WordingRequest { title, questions };
    let by = Some(signed.name.to_string());
    match s.secretariat.reword(&id, request, by).await {
        Ok(_) => Ok(done(&id, lang, "wording")),
        Err(AdminError::Invalid(v)) => {
            let m = crate::i18n::messages(lang);
            // The rule names the title or the questions; the box is the first language given.
            let first = |texts: &BTreeMap<Language, String>| {
                texts.keys().next().copied().unwrap_or(Language::En)
            };
            let field = if v.field == "title" {
                wording_title_field(first(&wording.title))
            } else {
                wording_questions_field(first(&wording.questions))
            };
            let errors = [FieldError {
                field: field.into(),
                message: m.render(&v.message),
            }];
            let forms = ConsultationForms {
                wording: Some(&wording),
                ..ConsultationForms::default()
            };
            again(&s, lang, &id, signed, &forms, &errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The multipart form of the console, read by the API's reader: its controls checked.
async fn read_form(
    request: Request,
    texts: Texts,
) -> (
    ConsoleControls,
    Result<crate::secretariat::outcome::OutcomeSubmission, ApiError>,
) {
    let mut controls = ConsoleControls::default();
    let submission = match Multipart::from_request(request, &()).await {
        Ok(mut multipart) => {
            read_parts(&mut multipart, texts, Sender::Console(&mut controls)).await
        }
        Err(e) => Err(crate::http::outcome::malformed(e.body_text())),
    };
    (controls, submission)
}

pub(crate) async fn add_documents(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let lang = language(None, &headers);
    let signed = match signed_in(&s, &headers, lang).await? {
        Ok(signed) => signed,
        Err(refused) => return Ok(refused),
    };
    let id = path_id(&raw)?;
    let (controls, submission) = read_form(request, Texts::Refused).await;
    let lang = language(Some(&controls.lang), &headers);
    if !signed.session.accepts_form_token(&controls.csrf) {
        return Ok(forbidden(lang));
    }
    let by = Some(signed.name.to_string());
    let result = match submission {
        Ok(submission) => s
            .secretariat
            .add_documents(&id, submission.documents, by)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(done(&id, lang, "documents")),
        Err(e) => {
            let error = field_error(
                e,
                lang,
                |_| DOCUMENT_FILE_FIELD.to_owned(),
                DOCUMENT_FILE_FIELD,
            )?;
            again(
                &s,
                lang,
                &id,
                &signed,
                &ConsultationForms::default(),
                &[error],
            )
            .await
        }
    }
}

pub(crate) async fn publish_outcome(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let lang = language(None, &headers);
    let signed = match signed_in(&s, &headers, lang).await? {
        Ok(signed) => signed,
        Err(refused) => return Ok(refused),
    };
    let id = path_id(&raw)?;
    let (controls, submission) = read_form(request, Texts::Accepted).await;
    let lang = language(Some(&controls.lang), &headers);
    if !signed.session.accepts_form_token(&controls.csrf) {
        return Ok(forbidden(lang));
    }
    let by = Some(signed.name.to_string());
    let mut typed = BTreeMap::new();
    let result = match submission {
        Ok(submission) => {
            typed = texts_by_language(&submission.texts, "text.");
            s.secretariat
                .publish_outcome(&id, submission, by)
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(done(&id, lang, "outcome")),
        Err(e) => {
            let field_of = |field: &str| {
                field
                    .strip_prefix("text.")
                    .and_then(Language::parse)
                    .map_or_else(|| OUTCOME_FILE_FIELD.to_owned(), outcome_text_field)
            };
            let error = field_error(e, lang, field_of, OUTCOME_FILE_FIELD)?;
            let forms = ConsultationForms {
                outcome: Some(&typed),
                ..ConsultationForms::default()
            };
            again(&s, lang, &id, &signed, &forms, &[error]).await
        }
    }
}
