module celgo

go 1.19

// Kubernetes 1.30's CEL (k8s.io/apiserver's go.mod). 1.36 ships a later cel-go with the same cost
// tracking and the same Go regexp behind matches().
require github.com/google/cel-go v0.17.8
