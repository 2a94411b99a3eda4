pub mod decrypt;
pub mod encrypt;
pub mod filestatus;
