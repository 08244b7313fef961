// For publishing (dev.keyhook:keyhook-client) and for Gradle users. In this repository the
// client is built and tested with the JDK alone (./jdk-build.sh test); this file gives the same
// layout to Gradle: the library from src/main/java, the tests from src/test/java, run by the
// project's own runner (no JUnit) as part of `check`.
plugins {
    `java-library`
    `maven-publish`
    signing
}

group = "dev.keyhook"
version = "0.1.0"

java {
    toolchain { languageVersion.set(JavaLanguageVersion.of(17)) }
    withSourcesJar()
    withJavadocJar()
}

tasks.withType<JavaCompile>().configureEach {
    options.release.set(17)
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

// No JUnit tests: the project's runner runs them (closing line "N passed, N failed").
tasks.test { enabled = false }
val runTests by tasks.registering(JavaExec::class) {
    description = "Runs the client's tests with the project's own runner"
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("dev.keyhook.TestRunner")
    args("dev.keyhook.HkdfTest", "dev.keyhook.JsonTest", "dev.keyhook.FormatTest",
         "dev.keyhook.VectorsTest", "dev.keyhook.ClientTest", "dev.keyhook.LeaseTest")
    workingDir = projectDir
}
tasks.check { dependsOn(runTests) }

publishing {
    publications {
        create<MavenPublication>("maven") {
            from(components["java"])
            pom {
                name.set("Keyhook client")
                description.set("Keyhook license client for Java and Kotlin: validate, activate and check out license files, floating seats and usage limits, every answer verified; offline license files, grace period and clock-rollback detection. No dependency beyond the JDK.")
                url.set("https://github.com/keyhook/keyhook/tree/main/clients/java")
                licenses { license { name.set("Apache-2.0"); url.set("https://www.apache.org/licenses/LICENSE-2.0.txt") } }
                developers { developer { name.set("Keyhook"); url.set("https://github.com/keyhook/keyhook") } }
                scm {
                    connection.set("scm:git:https://github.com/keyhook/keyhook.git")
                    url.set("https://github.com/keyhook/keyhook")
                }
            }
        }
    }
}

signing {
    // Signs only when a key is configured (a release); local builds need none.
    isRequired = gradle.taskGraph.hasTask("publish")
    sign(publishing.publications["maven"])
}
