//! Who sent an admin request, for the audit log: shared by every admin route.

/// Who sent an admin request, as the deployment knows them, put in the request's extensions
/// by the host (on AWS: the admin function, from the IAM principal API Gateway checked); it
/// goes into the audit log. The local host's token is shared, so it names no one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);
