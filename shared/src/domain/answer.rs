//! Answers to a consultation's questions: a response may answer each question separately, and
//! each answer is published as its own file, `answer-{k}.txt` (k: the question's 1-based
//! position), byte for byte. The file name is the only link between an answer and its
//! question, so it is reserved: an attached file of that name is renamed (see intake).

/// One answer as a question page lists it.
#[derive(Debug, Clone)]
pub struct AnswerEntry {
    pub number: u64,
    pub name: String,
    pub organization: Option<String>,
    /// The answer as published (the record).
    pub file: crate::domain::PublicFile,
    /// The answer's words as read from the file, cut at the publisher's limit for a page; `None`
    /// when they could not be read.
    pub text: Option<String>,
    /// The words were cut.
    pub cut: bool,
}

/// The multipart field (and JSON member, as `"answers": {"k": …}`) of question `k`'s answer.
pub fn answer_field(k: usize) -> String {
    format!("answer-{k}")
}

/// The name under which the answer to question `k` is published.
pub fn answer_file_name(k: usize) -> String {
    format!("answer-{k}.txt")
}

/// Question `k` of a field named `answer-{k}`: `k` written plainly (no sign, no leading zero).
pub fn question_of_field(field: &str) -> Option<usize> {
    plain_number(field.strip_prefix("answer-")?)
}

/// Question `k` of a file named `answer-{k}.txt`, as [`answer_file_name`] writes it.
pub fn question_of_file(name: &str) -> Option<usize> {
    plain_number(name.strip_prefix("answer-")?.strip_suffix(".txt")?)
}

/// A JSON `answers` key: `"1"`, `"2"`… written plainly.
pub fn question_of_key(key: &str) -> Option<usize> {
    plain_number(key)
}

fn plain_number(digits: &str) -> Option<usize> {
    let plain = !digits.is_empty()
        && digits.len() <= 9
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    plain.then(|| digits.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_name_their_question() {
        assert_eq!(question_of_field("answer-1"), Some(1));
        assert_eq!(question_of_field("answer-12"), Some(12));
        assert_eq!(question_of_field(&answer_field(7)), Some(7));
        for bad in [
            "answer-",
            "answer-0",
            "answer-01",
            "answer-+1",
            "answer-1x",
            "answers-1",
        ] {
            assert_eq!(question_of_field(bad), None, "{bad}");
        }
        assert_eq!(question_of_file(&answer_file_name(3)), Some(3));
        assert_eq!(question_of_file("answer-3.TXT"), None);
        assert_eq!(question_of_file("answer-3 (2).txt"), None);
        assert_eq!(question_of_key("2"), Some(2));
        assert_eq!(question_of_key("02"), None);
        assert_eq!(question_of_key("9999999999"), None);
    }
}
