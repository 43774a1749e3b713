//! How a run ends: every command returns an [`Exit`], and `main` maps it to
//! the process's exit code in one place ([`Exit::code`]).

/// The outcome of a command, one variant per meaning of an exit code.
///
/// | code | variant      | meaning                                                                 |
/// | ---- | ------------ | ----------------------------------------------------------------------- |
/// | 0    | `Success`    | done; a read-only command whose reader went away (`snapsync plan \| head`) |
/// | 1    | `Failure`    | an error: invalid specs, a plan with errors, a refusal, a failed lookup, an error before any write |
/// | 2    | `Changes`    | `plan --detailed-exitcode`: the plan has changes                        |
/// | 3    | `Partial`    | `apply`, `demo`, `crm import`/`export`: some operations or items were not applied (failed or stale), or parts of the plan had errors |
/// | 4    | `Declined`   | `apply`: the prompt was declined; nothing was written                   |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything went well.
    Success,
    /// An error; what it is was said on stderr.
    Failure,
    /// The plan has changes (`plan --detailed-exitcode`).
    Changes,
    /// Some operations or items were not applied; the rest were.
    Partial,
    /// The operator declined at the prompt: nothing was applied, at the
    /// operator's request (not an error, and not a success).
    Declined,
}

impl Exit {
    /// The process exit code (the table above).
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Changes => 2,
            Exit::Partial => 3,
            Exit::Declined => 4,
        }
    }

    /// [`Exit::Success`] when `ok`, else [`Exit::Failure`].
    pub fn failure_unless(ok: bool) -> Exit {
        if ok { Exit::Success } else { Exit::Failure }
    }

    /// [`Exit::Success`] when `ok`, else [`Exit::Partial`].
    pub fn partial_unless(ok: bool) -> Exit {
        if ok { Exit::Success } else { Exit::Partial }
    }
}

/// An error already shown on stderr (invalid specs, with every
/// diagnostic): the run ends with its exit code, and says nothing more.
#[derive(Debug, Clone, Copy)]
pub struct Reported(pub Exit);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reported above (exit code {})", self.0.code())
    }
}

impl std::error::Error for Reported {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_meaning_has_its_own_code_as_the_readme_documents() {
        let all = [
            Exit::Success,
            Exit::Failure,
            Exit::Changes,
            Exit::Partial,
            Exit::Declined,
        ];
        let codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        assert_eq!(Exit::failure_unless(false), Exit::Failure);
        assert_eq!(Exit::partial_unless(false), Exit::Partial);
        assert_eq!(Exit::partial_unless(true), Exit::Success);
    }
}
