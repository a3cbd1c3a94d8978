//! The rescue of values that do not fit their columns (`incompatible = "rescue"`, as
//! Databricks Auto Loader's rescued-data column): a row the contract refuses only because
//! some of its values are of another JSON type than their fields' is not rejected; those
//! values move, by field name, into the row's `_rescued` column as one JSON object, and the
//! row lands with the fields absent (null). A row that is still invalid without them (a
//! required field, any other violation) is rejected as before, whole.

use serde_json::{Map, Value};

use crate::contract::{field_path, Violation};
use crate::schema::RESCUED_COLUMN;

/// The values the contract refuses for their type, taken out of `row`, as the JSON object
/// the `_rescued` column holds (`{"shipping.city": 42}`); `None`, with `row` untouched, when
/// any violation is of another kind or is about the row itself.
pub fn take_misfits(row: &mut Value, violations: &[Violation]) -> Option<Map<String, Value>> {
    if violations.is_empty()
        || !violations
            .iter()
            .all(|v| v.wrong_type && !v.pointer.is_empty())
    {
        return None;
    }
    let mut taken = Map::new();
    let mut moved = row.clone();
    for v in violations {
        let value = take(&mut moved, &v.pointer)?;
        taken.insert(field_path(&v.pointer), value);
    }
    *row = moved;
    Some(taken)
}

/// Sets `row`'s `_rescued` column to `rescued`, as JSON text.
pub fn set_rescued(row: &mut Value, rescued: &Map<String, Value>) {
    if let Value::Object(members) = row {
        members.insert(
            RESCUED_COLUMN.to_string(),
            Value::String(Value::Object(rescued.clone()).to_string()),
        );
    }
}

/// Removes the value at JSON `pointer` from its object (an array element becomes null, so
/// the others keep their places).
fn take(row: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, last) = pointer.rsplit_once('/')?;
    let last = last.replace("~1", "/").replace("~0", "~");
    match row.pointer_mut(parent)? {
        Value::Object(members) => members.remove(&last),
        Value::Array(items) => {
            let slot = items.get_mut(last.parse::<usize>().ok()?)?;
            Some(std::mem::replace(slot, Value::Null))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wrong(pointer: &str) -> Violation {
        Violation {
            pointer: pointer.into(),
            message: format!("{pointer} is of another type"),
            wrong_type: true,
        }
    }

    #[test]
    fn misfits_leave_the_row_by_field_name_and_the_rest_stays() {
        let mut row = json!({"id": 1, "shipping": {"city": 42, "country": "FR"}, "tags": ["a", 7]});
        let taken = take_misfits(&mut row, &[wrong("/shipping/city"), wrong("/tags/1")]).unwrap();
        assert_eq!(
            Value::Object(taken.clone()),
            json!({"shipping.city": 42, "tags[1]": 7})
        );
        assert_eq!(
            row,
            json!({"id": 1, "shipping": {"country": "FR"}, "tags": ["a", null]})
        );
        set_rescued(&mut row, &taken);
        assert_eq!(
            serde_json::from_str::<Value>(row["_rescued"].as_str().unwrap()).unwrap(),
            json!({"shipping.city": 42, "tags[1]": 7})
        );
        // A field name with `/` or `~` in it, as JSON pointers escape them.
        let mut odd = json!({"a/b": "x", "c~d": 1});
        let taken = take_misfits(&mut odd, &[wrong("/a~1b"), wrong("/c~0d")]).unwrap();
        assert_eq!(Value::Object(taken), json!({"a/b": "x", "c~d": 1}));
        assert_eq!(odd, json!({}));
    }

    #[test]
    fn any_other_violation_leaves_the_row_as_it_was() {
        let mut row = json!({"id": "x", "n": 1});
        let required = Violation {
            pointer: "".into(),
            message: "\"m\" is required".into(),
            wrong_type: false,
        };
        assert_eq!(take_misfits(&mut row, &[wrong("/id"), required]), None);
        assert_eq!(take_misfits(&mut row, &[]), None);
        // The row itself of the wrong type (an array where an object is) has no field.
        assert_eq!(take_misfits(&mut row, &[wrong("")]), None);
        // A pointer that names nothing.
        assert_eq!(take_misfits(&mut row, &[wrong("/missing/deep")]), None);
        assert_eq!(row, json!({"id": "x", "n": 1}));
    }
}
