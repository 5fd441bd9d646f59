//! Helpers shared by the validation tests: break one rule of a valid fixture and check
//! the error kind and message.

use crate::error::{ErrorKind, ModelError};
use crate::task_definition::*;

/// Validate `base` after `change`, expecting an error.
pub(super) fn fails(
    mut base: RegisterTaskDefinitionInput,
    change: impl FnOnce(&mut RegisterTaskDefinitionInput),
) -> ModelError {
    change(&mut base);
    match validate(&base) {
        Err(e) => e,
        Ok(()) => panic!("expected a validation error for {base:#?}"),
    }
}

/// Expect a ClientException mentioning every needle.
pub(super) fn client(
    base: RegisterTaskDefinitionInput,
    change: impl FnOnce(&mut RegisterTaskDefinitionInput),
    needles: &[&str],
) {
    expect(ErrorKind::Client, fails(base, change), needles);
}

/// Expect an InvalidParameterException mentioning every needle.
pub(super) fn invalid(
    base: RegisterTaskDefinitionInput,
    change: impl FnOnce(&mut RegisterTaskDefinitionInput),
    needles: &[&str],
) {
    expect(ErrorKind::InvalidParameter, fails(base, change), needles);
}

/// Check an error's kind and that its message mentions every needle.
pub(super) fn expect(kind: ErrorKind, err: ModelError, needles: &[&str]) {
    assert_eq!(err.kind, kind, "{}", err.message);
    for n in needles {
        assert!(
            err.message.contains(n),
            "{:?} does not mention {n:?}",
            err.message
        );
    }
}

/// Validate `base` after `change`, expecting success.
pub(super) fn passes(
    mut base: RegisterTaskDefinitionInput,
    change: impl FnOnce(&mut RegisterTaskDefinitionInput),
) {
    change(&mut base);
    if let Err(e) = validate(&base) {
        panic!("expected a valid definition, got {e:?}");
    }
}

/// A container from JSON.
pub(super) fn container(v: serde_json::Value) -> ContainerDefinition {
    serde_json::from_value(v).expect("the container fixture deserialises")
}

/// The first container of the definition.
pub(super) fn web(i: &mut RegisterTaskDefinitionInput) -> &mut ContainerDefinition {
    &mut i.container_definitions[0]
}

/// Port mappings from JSON.
pub(super) fn ports(v: serde_json::Value) -> Vec<PortMapping> {
    serde_json::from_value(v).expect("the port fixture deserialises")
}
