// Plain HTTP to the server, as the reviewers' console and an app that owns its networking make
// it (java.net.http: nothing to install).

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.SecureRandom
import java.time.Duration
import uniffi.gridsync_ffi.FieldStore
import uniffi.gridsync_ffi.HttpReply

private val client: HttpClient = HttpClient.newBuilder()
    .version(HttpClient.Version.HTTP_1_1)
    .connectTimeout(Duration.ofSeconds(10))
    .build()

fun randomHex(bytes: Int): String =
    ByteArray(bytes).also { SecureRandom().nextBytes(it) }.joinToString("") { "%02x".format(it) }

private fun send(request: HttpRequest.Builder): HttpResponse<ByteArray> =
    client.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray())

/** One JSON string field of a small reply, e.g. `access_token`: enough for these checks. */
fun jsonString(body: String, key: String): String? =
    Regex("\"${Regex.escape(key)}\"\\s*:\\s*\"([^\"]*)\"").find(body)?.groupValues?.get(1)

/** Signs in over HTTP as the console would (a township's staff); returns an access token. */
fun serverLogin(url: String, user: String, password: String): String {
    val body = """{"user":"$user","password":"$password","device":"reviewer-${randomHex(4)}","actor":"${randomHex(16)}"}"""
    val reply = send(
        HttpRequest.newBuilder(URI.create("$url/v1/auth/login"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)),
    )
    val text = String(reply.body(), Charsets.UTF_8)
    expectEq(200, reply.statusCode(), "sign-in of $user: $text")
    return jsonString(text, "access_token") ?: throw CheckFailed("sign-in of $user gave no token: $text")
}

/** A GET with a bearer token; the body as text, failing on any status but 200. */
fun serverGet(url: String, path: String, token: String): String {
    val reply = send(HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer $token").GET())
    val text = String(reply.body(), Charsets.UTF_8)
    expectEq(200, reply.statusCode(), "GET $path: $text")
    return text
}

/** One request as an app makes it for `SyncDriver`: the store's own `Authorization`, and the
 *  reply as the `HttpReply` the driver is answered with. */
fun appRequest(
    url: String,
    store: FieldStore,
    method: String,
    path: String,
    body: ByteArray? = null,
    headers: Map<String, String> = emptyMap(),
): HttpReply {
    val request = HttpRequest.newBuilder(URI.create(url + path))
    store.authorizationHeader()?.let { request.header("Authorization", it) }
    headers.forEach { (name, value) -> request.header(name, value) }
    val publisher = body?.let { HttpRequest.BodyPublishers.ofByteArray(it) } ?: HttpRequest.BodyPublishers.noBody()
    val reply = send(request.method(method, publisher))
    return HttpReply(
        status = reply.statusCode().toUShort(),
        uploadOffset = reply.headers().firstValue("Upload-Offset").orElse(null)?.toULong(),
        uploadComplete = reply.headers().firstValue("Upload-Complete").orElse(null) == "true",
        body = reply.body(),
    )
}
