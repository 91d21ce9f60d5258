//! Typed handles to resources and parameters added to a stack.
//!
//! A handle is the only way to refer to something in a template. Handles carry their stack, so
//! the same handle used in another stack becomes an export and an import at synthesis.

use std::fmt;
use std::marker::PhantomData;

use crate::value::{Expr, Target, Value};

/// A resource of type `R` in some stack. Its `Fn::GetAtt` attributes are generated methods
/// (`queue.arn()`, `table.stream_arn()`), typed by the attribute's schema.
pub struct Handle<R> {
    target: Target,
    kind: PhantomData<fn() -> R>,
}

impl<R> Handle<R> {
    pub(crate) fn new(stack: &str, logical_id: &str) -> Self {
        Self {
            target: Target {
                stack: stack.to_owned(),
                logical_id: logical_id.to_owned(),
            },
            kind: PhantomData,
        }
    }

    pub fn logical_id(&self) -> &str {
        &self.target.logical_id
    }

    /// The CloudFormation name of the stack the resource belongs to.
    pub fn stack(&self) -> &str {
        &self.target.stack
    }

    /// `Ref` of the resource (what it returns depends on the type: a name, an id or a URL).
    pub fn reference(&self) -> Value<String> {
        Value::expr(Expr::Ref(self.target.clone()))
    }

    /// `Fn::GetAtt`; the generated accessors call this with the schema's attribute names.
    pub(crate) fn get_att<T>(&self, attribute: &str) -> Value<T> {
        Value::expr(Expr::GetAtt(self.target.clone(), attribute.to_owned()))
    }
}

// Written by hand: a derive would require `R: Clone`, which properties need not be.
impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Self {
            target: self.target.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Handle({}/{})",
            self.target.stack, self.target.logical_id
        )
    }
}

/// A template parameter whose value has type `T` (`String`, `i64` or `Vec<String>`).
pub struct Param<T> {
    target: Target,
    kind: PhantomData<fn() -> T>,
}

impl<T> Param<T> {
    pub(crate) fn new(stack: &str, name: &str) -> Self {
        Self {
            target: Target {
                stack: stack.to_owned(),
                logical_id: name.to_owned(),
            },
            kind: PhantomData,
        }
    }

    pub fn name(&self) -> &str {
        &self.target.logical_id
    }

    /// `Ref` of the parameter.
    pub fn value(&self) -> Value<T> {
        Value::expr(Expr::Ref(self.target.clone()))
    }
}

impl<T> Clone for Param<T> {
    fn clone(&self) -> Self {
        Self {
            target: self.target.clone(),
            kind: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Param({}/{})", self.target.stack, self.target.logical_id)
    }
}

/// A template condition, usable in [`Condition::choose`] and as a resource's
/// `Condition`. Conditions cannot cross stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub(crate) target: Target,
}

impl Condition {
    pub fn name(&self) -> &str {
        &self.target.logical_id
    }

    /// `Fn::If`: `then` when the condition holds, `otherwise` when it does not.
    pub fn choose<T>(&self, then: Value<T>, otherwise: Value<T>) -> Value<T>
    where
        T: serde::Serialize,
    {
        Value::expr(Expr::If(
            self.target.clone(),
            Box::new(then.to_expr()),
            Box::new(otherwise.to_expr()),
        ))
    }
}
