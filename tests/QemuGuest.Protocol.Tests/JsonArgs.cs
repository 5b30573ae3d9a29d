using System.Text.Json;

namespace QemuGuest.Protocol.Tests;

/// <summary>Arguments given as a JSON object literal, for tests and raw cases.</summary>
public sealed class JsonArgs : IQgaArguments
{
    private readonly JsonDocument _document;

    public JsonArgs(string json) => _document = JsonDocument.Parse(json);

    public void WriteMembers(Utf8JsonWriter writer)
    {
        foreach (JsonProperty property in _document.RootElement.EnumerateObject())
        {
            property.WriteTo(writer);
        }
    }
}
