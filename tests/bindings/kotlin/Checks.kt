// The few checks the Kotlin field day needs, and its runner: JUnit is not at hand here (only
// the Kotlin compiler and JNA are installed), so a plain `main` that exits non-zero on failure.

import java.io.File
import kotlin.system.exitProcess

class CheckFailed(message: String) : AssertionError(message)

fun expect(condition: Boolean, what: () -> String) {
    if (!condition) throw CheckFailed(what())
}

fun <T> expectEq(expected: T, actual: T, what: String) {
    if (expected != actual) throw CheckFailed("$what: expected <$expected>, got <$actual>")
}

/** Runs [block] and returns the [E] it throws; anything else, or nothing, fails. */
inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw CheckFailed("$what: expected ${E::class.qualifiedName}, got $e")
    }
    throw CheckFailed("$what: expected ${E::class.qualifiedName}, nothing was thrown")
}

/** What `tools/test-kotlin.sh` hands the tests: the server it started and a scratch folder. */
class Env(val url: String, val password: String, private val work: File) {
    /** A fresh folder for one scenario's phones and files. */
    fun dir(name: String): File = File(work, name).also { it.mkdirs() }

    companion object {
        fun fromEnvironment(): Env {
            fun need(name: String) = System.getenv(name)?.takeIf { it.isNotEmpty() }
                ?: throw IllegalStateException("$name is unset: run this through tools/test-kotlin.sh")
            return Env(need("GRIDSYNC_URL"), need("GRIDSYNC_PASSWORD"), File(need("GRIDSYNC_WORK")))
        }
    }
}

/** Runs each scenario, prints one line each and the closing count; exits 1 if any failed. */
fun runScenarios(env: Env, scenarios: List<Pair<String, (Env) -> Unit>>) {
    var passed = 0
    var failed = 0
    for ((name, scenario) in scenarios) {
        try {
            scenario(env)
            println("ok - $name")
            passed++
        } catch (e: Throwable) {
            println("FAILED - $name")
            e.printStackTrace(System.out)
            failed++
        }
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
