using System.Text.Json;

namespace QemuGuest.Relay.Tests.Fixtures;

public static class Json
{
    private static JsonDocument Some(JsonDocument? d) => d ?? throw new Xunit.Sdk.XunitException("no message (timeout or end of stream)");

    public static string? ErrorClass(this JsonDocument? d) =>
        Some(d).RootElement.TryGetProperty("error", out var e) ? e.GetProperty("class").GetString() : null;

    public static string? ErrorDesc(this JsonDocument? d) =>
        Some(d).RootElement.TryGetProperty("error", out var e) ? e.GetProperty("desc").GetString() : null;

    public static JsonElement Return(this JsonDocument? d) =>
        Some(d).RootElement.TryGetProperty("return", out var r) ? r : throw new Xunit.Sdk.XunitException("no return: " + Some(d).RootElement.GetRawText());

    public static string? IdText(this JsonDocument? d) =>
        Some(d).RootElement.TryGetProperty("id", out var id) ? JsonSerializer.Serialize(id) : null;
}
