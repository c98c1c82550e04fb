fn main() {
    print!("{}", commandbridge_operator::crd::to_yaml().unwrap());
}
