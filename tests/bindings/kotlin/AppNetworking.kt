// An app that owns its networking (OkHttp on Android; java.net.http here): the library says
// which request to make next (`SyncStep`) and what the reply means.

import java.io.File
import uniffi.gridsync_ffi.*

fun drivenSync(env: Env) {
    val dir = env.dir("driven")
    openStore(File(dir, "phone.db")).use { store ->
        // liu works the neighbouring grid: no colleague's photo there to fetch a thumbnail of.
        store.login(env.url, "liu", env.password)
        val case = store.capture(NewCaseRecord(kind = "incident", jurisdiction = OTHER_GRID, category = "street_light", title = "路灯不亮"))
        store.attachPhoto(case, cameraPhoto(File(dir, "lamp.jpg")).path, "现场照片", null, null)

        val driver = store.beginSync()
        val kinds = mutableListOf<String>()
        var done = false
        for (round in 1..50) {
            val reply = when (val step = driver.nextStep()) {
                is SyncStep.Done -> {
                    done = true
                    break
                }
                is SyncStep.Sync -> {
                    kinds += "sync"
                    appRequest(env.url, store, "POST", "/v1/sync", step.body, mapOf("Content-Type" to "application/x-gridsync"))
                }
                is SyncStep.ProbeUpload -> {
                    kinds += "probe"
                    appRequest(env.url, store, "HEAD", "/v1/blobs/${step.sha256}")
                }
                is SyncStep.SendPart -> {
                    kinds += "part"
                    val range = "bytes ${step.start}-${step.total - 1uL}/${step.total}"
                    val headers = mapOf("Content-Type" to "application/octet-stream", "Content-Range" to range)
                    appRequest(env.url, store, "PUT", "/v1/blobs/${step.sha256}", step.body, headers)
                }
                is SyncStep.FetchThumbnail -> {
                    kinds += "thumbnail"
                    appRequest(env.url, store, "GET", "/v1/blobs/${step.sha256}?thumb=1")
                }
            }
            driver.answer(reply)
        }
        expect(done) { "the sync did not end within 50 steps: $kinds" }
        // One round trip for the case, then the photo: probed, sent whole.
        expectEq(listOf("sync", "probe", "part"), kinds, "the steps")
        val out = driver.outcome()
        // Two changes accepted: the capture and the photo's reference.
        expectEq(Triple(2uL, 1uL, 0uL), Triple(out.accepted, out.uploadedAttachments, out.pendingUploads), "accepted, uploaded, pending")
        expectEq(0uL, store.pendingCount(), "pending changes after the driven sync")
        expectEq("synced", store.getCase(case).syncState, "the case's sync state")
        // Asked again after the end, it stays done; a reply nobody asked for is refused.
        expect(driver.nextStep() is SyncStep.Done) { "the driver did not stay done" }
        expectThrows<FfiException.InvalidInput>("a reply nobody asked for") {
            driver.answer(HttpReply(status = 200u, uploadOffset = null, uploadComplete = false, body = ByteArray(0)))
        }
        driver.close()
    }
}
