//! Sectors: the IASC clusters plus Protection's areas of responsibility.

use super::vocabulary;

vocabulary! {
    /// The cluster (or area of responsibility) a need belongs to.
    Sector {
        Cccm => "cccm", "Camp Coordination and Camp Management", "Coordinación y Gestión de Campamentos";
        EarlyRecovery => "early-recovery", "Early Recovery", "Recuperación Temprana";
        Education => "education", "Education", "Educación";
        Shelter => "shelter", "Emergency Shelter", "Alojamiento de Emergencia";
        FoodSecurity => "food-security", "Food Security", "Seguridad Alimentaria";
        Health => "health", "Health", "Salud";
        Nutrition => "nutrition", "Nutrition", "Nutrición";
        Protection => "protection", "Protection", "Protección";
        ChildProtection => "child-protection", "Child Protection (AoR)", "Protección de la Niñez";
        Gbv => "gbv", "Gender-Based Violence (AoR)", "Violencia de Género";
        Hlp => "hlp", "Housing, Land and Property (AoR)", "Vivienda, Tierras y Propiedad";
        MineAction => "mine-action", "Mine Action (AoR)", "Acción contra Minas";
        Telecoms => "telecoms", "Emergency Telecommunications", "Telecomunicaciones de Emergencia";
        Logistics => "logistics", "Logistics", "Logística";
        Wash => "wash", "Water, Sanitation and Hygiene", "Agua, Saneamiento e Higiene";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_clusters_and_four_areas_of_responsibility() {
        assert_eq!(Sector::ALL.len(), 15);
        assert_eq!(Sector::parse("Food-Security"), Some(Sector::FoodSecurity));
        assert_eq!(Sector::parse("food"), None);
    }
}
