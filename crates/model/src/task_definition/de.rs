//! Deserialisation helpers shared by the task definition shapes.

use serde::{Deserialize, Deserializer};

/// Read `null` like an absent member: the type's default (an empty list). Hand-written task
/// definitions often carry `"links": null` copied from describe output; AWS accepts them.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
