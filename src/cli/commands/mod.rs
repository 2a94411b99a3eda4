pub mod decrypt;
pub mod encrypt;
pub mod filestatus;
pub mod k8s;
