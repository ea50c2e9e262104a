//! The `oci-stamp` binary: everything happens in [`oci_stamp::run`].

fn main() -> std::process::ExitCode {
    oci_stamp::run()
}
