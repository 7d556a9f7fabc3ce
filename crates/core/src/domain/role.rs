//! The roles people hold in a response.

use super::vocabulary;

vocabulary! {
    /// What a person may do; their country is their scope.
    Role {
        FieldCoordinator => "field-coordinator", "Field coordinator", "Coordinador/a de campo";
        NationalDirector => "national-director", "National director", "Director/a nacional";
        RegionalDirector => "regional-director", "Regional director", "Director/a regional";
        Reviewer => "reviewer", "Reviewer", "Revisor/a";
        Administrator => "administrator", "Administrator", "Administrador/a";
    }
}
