//! Customer value (filled by the customer value work).
