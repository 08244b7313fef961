rootProject.name = "keyhook-client"
