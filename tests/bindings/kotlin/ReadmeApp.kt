// What README.md's Kotlin example takes from its Android app (a files folder, a photo, the
// server, a coroutine scope, Logcat), so that tools/test-kotlin.sh compiles the example as
// written, as an extension of this class (`ReadmeApp.readmeSnippet()`, generated from the
// README), and runs it against the real server.

import java.io.File
import java.util.Collections
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.job
import kotlinx.coroutines.runBlocking

class ReadmeApp(env: Env) {
    val SERVER = env.url
    val password = env.password
    val storeKey = randomKey()
    val filesDir = env.dir("readme")
    val photo = cameraPhoto(File(filesDir, "photo.jpg"))
    val lat = 37.1
    val lon = 115.0
    // The test server speaks plain HTTP on loopback: no county CA to trust (null: the public roots).
    val countyCaPem: String? = null

    val failures: MutableList<Throwable> = Collections.synchronizedList(mutableListOf())
    val lifecycleScope = CoroutineScope(SupervisorJob() + CoroutineExceptionHandler { _, e -> failures += e })

    /** Logcat: keeps the lines. */
    val Log = Logcat()

    class Logcat {
        val lines: MutableList<String> = Collections.synchronizedList(mutableListOf())
        fun i(tag: String, message: String) {
            lines += "$tag: $message"
        }
    }

    val calls: MutableList<String> = Collections.synchronizedList(mutableListOf())
    fun retryLater() {
        calls += "retryLater"
    }
    fun askToSignInAgain() {
        calls += "askToSignInAgain"
    }

    /** Waits for what the example launched. */
    fun awaitLaunched() = runBlocking { lifecycleScope.coroutineContext.job.children.toList().forEach { it.join() } }
}

fun readmeSnippetRuns(env: Env) {
    val app = ReadmeApp(env)
    app.readmeSnippet()
    app.awaitLaunched()
    expectEq(emptyList<Throwable>(), app.failures.toList(), "what the launched sync threw")
    expectEq(emptyList<String>(), app.calls.toList(), "the error handlers called")
    // The capture and the photo's reference.
    expectEq(listOf("gridsync: 2 accepted, 0 refused"), app.Log.lines.toList(), "the example's log")
}
