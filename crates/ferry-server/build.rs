fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    println!("cargo:rerun-if-changed=csrc/sortscore.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .file("csrc/sortscore.c")
        .warnings(true)
        .compile("ferry_longdouble");
}
