// A field day through the generated Kotlin bindings, on the JVM, against a real `gridsync serve`
// started by tools/test-kotlin.sh (accounts wang, zhao, liu and chen, one password). It mirrors
// tests/bindings/python/test_field_day.py: what an Android app calls, compiled by kotlinc, so a
// binding that does not compile or does not behave fails here.

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.File
import java.security.SecureRandom
import java.util.Collections
import javax.imageio.ImageIO
import uniffi.gridsync_ffi.*

const val VILLAGE = "130322/101/201"
const val GRID = "$VILLAGE/01"
const val OTHER_GRID = "$VILLAGE/02"

// Text that must never appear in plain form in a phone's store file, nor in the app's log.
const val SECRET_TITLE = "宅基地边界纠纷-李四家"
const val SECRET_NAME = "李四"
const val SECRET_DESCRIPTION = "东墙越界两米 MARKER-7f3a"

fun main() {
    runScenarios(
        Env.fromEnvironment(),
        listOf(
            "a field day merges two phones and the server" to ::fieldDay,
            "bad keys, credentials and input get the FfiException an app acts on" to ::errors,
            "an app that owns its networking drives the sync step by step" to ::drivenSync,
            "the README's Kotlin runs as written" to ::readmeSnippetRuns,
        ),
    )
}

/** A phone's store with its own key (a real app keeps it wrapped by the Android Keystore). */
fun openStore(file: File): FieldStore = FieldStore.open(file.path, randomKey())

fun randomKey(): ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }

/** A JPEG as a phone camera makes one: noise, so it does not shrink. */
fun cameraPhoto(file: File): File {
    val random = SecureRandom()
    val image = java.awt.image.BufferedImage(256, 256, java.awt.image.BufferedImage.TYPE_INT_RGB)
    for (x in 0 until 256) for (y in 0 until 256) image.setRGB(x, y, random.nextInt(0x1000000))
    val out = ByteArrayOutputStream()
    expect(ImageIO.write(image, "jpeg", out)) { "the JVM wrote no JPEG" }
    file.writeBytes(out.toByteArray())
    return file
}

/** The app's log sink: keeps every line (called from the library's threads). */
class Recorder : LogSink {
    val lines: MutableList<String> = Collections.synchronizedList(mutableListOf())
    override fun log(level: LogLevel, message: String) {
        lines.add(message)
    }
}

/** The app's upload progress callback: keeps every report. */
class Progress : SyncProgress {
    val calls: MutableList<Triple<String, ULong, ULong>> = Collections.synchronizedList(mutableListOf())
    override fun uploadProgress(sha256: String, sentBytes: ULong, totalBytes: ULong) {
        calls.add(Triple(sha256, sentBytes, totalBytes))
    }
}

fun allCases(store: FieldStore): List<CaseSummaryRecord> = store.listCases(CaseFilterRecord())

/** Conflicts as comparable values: field to sorted (value, user). */
fun conflictsOf(conflicts: List<FieldConflictRecord>): Map<String, List<Pair<String, String?>>> =
    conflicts.associate { c -> c.field to c.values.map { it.value to it.user }.sortedBy { it.first } }

/** Every byte the store keeps on disk: the file and its write-ahead log. */
fun fileBytes(file: File): ByteArray =
    listOf(file, File(file.path + "-wal")).filter { it.exists() }.fold(ByteArray(0)) { all, f -> all + f.readBytes() }

fun ByteArray.contains(needle: ByteArray): Boolean =
    (0..size - needle.size).any { at -> needle.indices.all { this[at + it] == needle[it] } }

fun fieldDay(env: Env) {
    val log = Recorder()
    setLogSink(log, LogLevel.DEBUG)
    try {
        fieldDay(env, log)
    } finally {
        clearLogSink()
    }
}

private fun fieldDay(env: Env, log: Recorder) {
    val dir = env.dir("field-day")
    val url = env.url
    val wangFile = File(dir, "wang.db")
    val wang = openStore(wangFile)
    val zhao = openStore(File(dir, "zhao.db"))
    expect(wang.deviceId() != zhao.deviceId()) { "two stores share a device id" }

    // Morning, online: both sign in; wang reports a dispute and syncs; zhao pulls it.
    val signed = wang.login(url, "wang", env.password)
    expectEq("grid_worker" to GRID, signed.role to signed.scope, "wang's role and scope")
    zhao.login(url, "zhao", env.password)
    expectEq("mediator", zhao.signedIn()?.role, "zhao's role")

    val dispute = wang.capture(
        NewCaseRecord(
            kind = "dispute",
            jurisdiction = GRID,
            category = "dispute_land_boundary",
            title = SECRET_TITLE,
            description = SECRET_DESCRIPTION,
            address = "西街3号",
            people = listOf(
                PartyRecord(name = SECRET_NAME, role = "applicant", phone = "13800000000"),
                PartyRecord(name = "王五", role = "respondent"),
            ),
        ),
    )
    expectEq(1uL, wang.pendingCount(), "wang's pending changes after one capture")
    val out = wang.sync(url, null)
    expect(out.accepted >= 1uL && out.rejected == 0uL) { "the first sync: $out" }
    expectEq(0uL, wang.pendingCount(), "wang's pending changes after the sync")
    zhao.sync(url, null)
    expect(dispute in allCases(zhao).map { it.id }) { "zhao did not pull the dispute" }

    // Offline from here: both edit the dispute's title; zhao logs a mediation session.
    wang.setTitle(dispute, "宅基地纠纷（东墙）")
    zhao.setTitle(dispute, "李王两家宅基地纠纷")
    zhao.addMediationSession(
        dispute,
        MediationSessionRecord(atMs = 1_790_000_000_000, mediators = listOf("zhao"), notes = "双方同意现场测量", outcome = "adjourned"),
    )
    zhao.setAgreement(dispute, "双方同意以测量结果为界。")

    // wang photographs a broken street light; the store keeps its own copy.
    val photo = cameraPhoto(File(dir, "lamp.jpg"))
    val lamp = wang.capture(NewCaseRecord(kind = "incident", jurisdiction = GRID, category = "street_light", title = "路灯不亮"))
    val attached = wang.attachPhoto(lamp, photo.path, "现场照片", 37.1, 115.0)
    expectEq("image/jpeg" to photo.length().toULong(), attached.mime to attached.bytes, "the attachment")
    expect(wang.attachmentBytes(attached.sha256).contentEquals(photo.readBytes())) { "the store's copy differs" }
    val household = wang.capture(
        NewCaseRecord(kind = "household", jurisdiction = GRID, category = "household_person", title = "张家户籍信息"),
    )
    wang.setField(household, "members", "4")
    wang.addPerson(household, PartyRecord(name = "张一", role = "member"))
    // A case in the neighbouring grid is refused on the phone at once, with the reason.
    val outside = expectThrows<FfiException.InvalidInput>("a capture outside wang's grid") {
        wang.capture(NewCaseRecord(kind = "incident", jurisdiction = OTHER_GRID, category = "road_damage", title = "邻村道路塌陷"))
    }
    expect("out of scope" in outside.reason) { "the refusal's reason: ${outside.reason}" }
    val family = zhao.capture(
        NewCaseRecord(kind = "dispute", jurisdiction = GRID, category = "dispute_marriage_family", title = "赡养纠纷"),
    )
    // A step the mediator's role may take offline; a grid worker may not archive.
    zhao.appendEvent(family, EventKind.Accepted, "村调委会受理")
    val archive = expectThrows<FfiException.InvalidInput>("wang archiving") { wang.appendEvent(lamp, EventKind.Archived, "") }
    expectEq("workflow", archive.field, "the refused step's field")

    // No network: the retryable error, and nothing lost.
    val before = allCases(wang).map { it.id to it.title }.sortedBy { it.first }
    expectEq(3uL, wang.pendingCount(), "wang's pending cases offline")
    expectThrows<FfiException.Network>("a sync with the server unreachable") {
        wang.sync("http://127.0.0.1:9", CredentialsRecord(user = "wang", password = env.password))
    }
    expectEq(3uL, wang.pendingCount(), "wang's pending cases after the failed sync")
    expectEq(before, allCases(wang).map { it.id to it.title }.sortedBy { it.first }, "wang's cases after the failed sync")

    // Back online: they sync in turn, then wang once more to pick up zhao's work.
    val progress = Progress()
    val first = wang.syncWithProgress(url, CredentialsRecord(user = "wang", password = env.password), progress)
    // One change per offline edit: a title, two captures, a photo, a field and a person.
    expectEq(6uL to 0uL, first.accepted to first.rejected, "wang's offline changes accepted, rejected")
    expectEq(1uL to 0uL, first.uploadedAttachments to first.pendingUploads, "photos uploaded, pending")
    val size = photo.length().toULong()
    expectEq(Triple(attached.sha256, size, size), progress.calls.lastOrNull(), "the last progress report")
    expect(wang.getCase(lamp).attachments.single().uploaded) { "the photo is not marked uploaded" }
    val seen = zhao.sync(url, CredentialsRecord(user = "zhao", password = env.password))
    expectEq(1uL, seen.fetchedThumbnails, "thumbnails zhao fetched")
    val thumb = zhao.thumbnail(attached.sha256) ?: throw CheckFailed("zhao has no thumbnail")
    val picture = ImageIO.read(ByteArrayInputStream(thumb)) ?: throw CheckFailed("the thumbnail is no image")
    expect(maxOf(picture.width, picture.height) <= 320) { "thumbnail ${picture.width}x${picture.height}" }
    val onZhao = zhao.getCase(lamp).attachments.single()
    expect(onZhao.thumbnailOnPhone && !onZhao.onPhone) { "zhao's copy of the photo: $onZhao" }
    expect(zhao.fetchAttachment(url, attached.sha256).contentEquals(photo.readBytes())) { "the fetched photo differs" }
    wang.sync(url, null)
    expectEq(0uL, zhao.pendingCount(), "zhao's pending changes")

    // Both phones hold the same cases; the server agrees on each.
    val expected = setOf(dispute, lamp, household, family)
    val wangIds = allCases(wang).map { it.id }.toSet()
    expectEq(wangIds, allCases(zhao).map { it.id }.toSet(), "the cases on zhao's phone")
    expect(wangIds.containsAll(expected)) { "wang lacks ${expected - wangIds}" }
    val token = serverLogin(url, "chen", env.password)
    for (phone in listOf(wang, zhao)) {
        for (id in expected) {
            val mine = phone.getCase(id)
            val theirs = serverGet(url, "/v1/cases/$id", token)
            expectEq("synced", mine.syncState, "the sync state of $id")
            expectEq(mine.title, jsonString(theirs, "title"), "the title of $id on the server")
        }
    }

    // The concurrent titles are both kept, each with who wrote it; the rest merged cleanly.
    val merged = zhao.getCase(dispute)
    expectEq(
        mapOf("title" to listOf("宅基地纠纷（东墙）" to "wang", "李王两家宅基地纠纷" to "zhao")),
        conflictsOf(merged.conflicts),
        "the dispute's conflicts",
    )
    expectEq(conflictsOf(merged.conflicts), conflictsOf(wang.getCase(dispute).conflicts), "the conflicts on wang's phone")
    expect("李王两家宅基地纠纷" in serverGet(url, "/v1/cases/$dispute", token)) { "the server lost zhao's title" }
    expectEq("双方同意以测量结果为界。", merged.mediation.agreement, "the agreement")
    expectEq(listOf("双方同意现场测量"), merged.mediation.sessions.map { it.notes }, "the session notes")
    expectEq(listOf(SECRET_NAME, "王五"), merged.people.map { it.name }, "the dispute's people")
    expectEq(dispute, wang.listCases(CaseFilterRecord(conflictOnly = true)).firstOrNull()?.id, "wang's conflicted case")
    expectEq("accepted", wang.getCase(family).status, "the family dispute's status")
    expectEq(mapOf("members" to "4"), wang.getCase(household).extra, "the household's fields")
    expectEq(listOf(attached.sha256), zhao.getCase(lamp).attachments.map { it.sha256 }, "the photo on zhao's phone")
    // Nothing was sent down from the township for wang to verify.
    expectEq(emptyList<CaseSummaryRecord>(), wang.listCases(CaseFilterRecord(tasksOnly = true)), "wang's tasks to verify")

    // Nothing captured is on disk in plain form; the log saw the sync but no case text.
    val raw = fileBytes(wangFile)
    for (needle in listOf(SECRET_TITLE, SECRET_NAME, SECRET_DESCRIPTION, "路灯不亮", "13800000000")) {
        expect(!raw.contains(needle.toByteArray())) { "\"$needle\" is stored in plain form" }
    }
    val text = log.lines.joinToString("\n")
    expect("sync round" in text) { "the log never mentions a sync round" }
    for (needle in listOf(SECRET_TITLE, SECRET_NAME, env.password, "路灯不亮")) {
        expect(needle !in text) { "the log holds \"$needle\"" }
    }
    listOf(wang, zhao).forEach { it.close() }
}
