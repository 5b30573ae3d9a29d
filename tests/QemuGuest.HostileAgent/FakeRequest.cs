using System.Text.Json;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>A request as the fake agent saw it.</summary>
public sealed class FakeRequest
{
    public FakeRequest(FakeConnection connection, JsonElement request)
    {
        Connection = connection;
        Request = request;
        Command = request.TryGetProperty("execute", out JsonElement e) ? e.GetString() ?? "" : "";
        Arguments = request.TryGetProperty("arguments", out JsonElement a) ? a : default;
        Id = request.TryGetProperty("id", out JsonElement id) ? id : null;
    }

    public FakeConnection Connection { get; }

    public JsonElement Request { get; }

    public string Command { get; }

    /// <summary>The arguments object, or an undefined element when there were none.</summary>
    public JsonElement Arguments { get; }

    public JsonElement? Id { get; }

    /// <summary>The id as raw JSON text, or null.</summary>
    public string? IdText => Id?.GetRawText();

    /// <summary><c>,"id":ID</c> to append inside a reply object, or empty.</summary>
    public string IdMember => Id is null ? "" : ",\"id\":" + IdText;

    /// <summary>The string argument <paramref name="name"/>, or null.</summary>
    public string? StringArgument(string name) =>
        Arguments.ValueKind == JsonValueKind.Object && Arguments.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Sends <paramref name="reply"/> (a JSON object text) with the request's id (or <paramref name="id"/>) added, then '\n'.</summary>
    public Task ReplyAsync(string reply, bool delimiter = false, string? id = null)
    {
        string idText = id ?? IdText ?? string.Empty;
        string text = idText.Length == 0 ? reply : reply.Substring(0, reply.LastIndexOf('}')) + ", \"id\": " + idText + "}";
        return Connection.SendAsync(text + "\n", delimiter);
    }

    public Task SendAsync(string text) => Connection.SendAsync(text);

    public Task SendAsync(byte[] bytes) => Connection.SendAsync(bytes);
}
