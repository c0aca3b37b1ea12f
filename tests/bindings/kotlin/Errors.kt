// Errors as an app meets them: `FfiException` variants with the fields it branches on.

import java.io.File
import uniffi.gridsync_ffi.*

/** What an app does with each variant. Exhaustive on purpose: a variant added to `FfiError`
 *  fails this compile, as it would fail an app's `when`, so the change is seen. */
fun reaction(e: FfiException): String = when (e) {
    is FfiException.Network -> "retry later"
    is FfiException.Auth -> "sign in again"
    is FfiException.Storage -> "storage"
    is FfiException.InvalidInput -> "fix ${e.field}"
    is FfiException.Conflict -> "refresh"
    is FfiException.Sms -> "sms ${e.code}"
    is FfiException.Peer -> "peer ${e.code}"
    is FfiException.Internal -> "report a bug"
}

fun errors(env: Env) {
    val dir = env.dir("errors")
    val path = File(dir, "phone.db").path
    val short = expectThrows<FfiException.InvalidInput>("a 31-byte key") { FieldStore.open(path, ByteArray(31) { 1 }) }
    expectEq("encryption_key", short.field, "the field of a short key")
    expectEq("fix encryption_key", reaction(short), "the app's reaction to a short key")

    val key = randomKey()
    val device = FieldStore.open(path, key).use { it.deviceId() }
    val wrongKey = expectThrows<FfiException.Storage>("the store opened with another key") { FieldStore.open(path, randomKey()) }
    expectEq("storage", reaction(wrongKey), "the app's reaction to a wrong key")
    // The right key opens it again, as the same device.
    FieldStore.open(path, key).use { store ->
        expectEq(device, store.deviceId(), "the device id after reopening")

        val denied = expectThrows<FfiException.Auth>("a wrong password") { store.login(env.url, "wang", "wrong password") }
        expectEq("sign in again", reaction(denied), "the app's reaction to a wrong password")
        expectEq(null, store.signedIn(), "who is signed in after a refused sign-in")
        val nobody = expectThrows<FfiException.InvalidInput>("a capture before signing in") {
            store.capture(NewCaseRecord(kind = "incident", jurisdiction = GRID, category = "street_light", title = "x"))
        }
        expectEq("identity", nobody.field, "the field of a capture before signing in")
        expectThrows<FfiException.Auth>("a sync before signing in") { store.sync(env.url, null) }

        // Signing in through `sync` with credentials, then refusing bad input with the field named.
        store.sync(env.url, CredentialsRecord(user = "wang", password = env.password))
        expectEq("wang", store.signedIn()?.user, "who is signed in after a sync with credentials")
        val kind = expectThrows<FfiException.InvalidInput>("an unknown kind") {
            store.capture(NewCaseRecord(kind = "picnic", jurisdiction = GRID, category = "street_light", title = "x"))
        }
        expectEq("kind", kind.field, "the field of an unknown kind")
        val case = store.capture(NewCaseRecord(kind = "incident", jurisdiction = GRID, category = "street_light", title = "x"))
        val notAPhoto = File(dir, "notes.txt").also { it.writeText("just text") }
        val attach = expectThrows<FfiException.InvalidInput>("a text file as a photo") {
            store.attachPhoto(case, notAPhoto.path, "", null, null)
        }
        expectEq("attachment", attach.field, "the field of a text file as a photo")
        val missing = expectThrows<FfiException.InvalidInput>("a photo that is not there") {
            store.attachPhoto(case, File(dir, "nope.jpg").path, "", null, null)
        }
        expectEq("path", missing.field, "the field of a missing photo")
        val unknown = expectThrows<FfiException.InvalidInput>("an unknown case") { store.getCase("no-such-case") }
        expectEq("case_id", unknown.field, "the field of an unknown case")
        val garbage = expectThrows<FfiException.Network>("a reply that is not a sync response") {
            store.applySyncResponse("not a response".toByteArray())
        }
        expectEq("retry later", reaction(garbage), "the app's reaction to a broken reply")
    }
}
