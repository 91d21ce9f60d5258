//! What every generated properties struct is: a CloudFormation resource type.

use serde::Serialize;

/// The properties of a CloudFormation resource type.
pub trait Resource: Serialize + 'static {
    /// The CloudFormation type name, e.g. `AWS::SQS::Queue`.
    const TYPE: &'static str;
    /// What the type's schema allows its property values to be, checked at synthesis.
    const CONSTRAINTS: &'static [crate::validate::Constraint] = &[];
}
