pub use headwind_core as core;
