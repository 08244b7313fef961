module github.com/keyhook/keyhook/clients/go

go 1.19
