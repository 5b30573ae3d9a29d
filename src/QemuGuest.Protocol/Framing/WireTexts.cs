using System;
using System.Text.Json;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The texts of the error replies to input that never became a request (stray bytes, limits,
/// malformed JSON), as qemu's json-streamer.c and json-parser.c word them. The agent and the
/// relay's endpoints answer framing errors from here, so a client sees the stock agent's text
/// whichever of them it talks to. None of these replies carries an id.
/// </summary>
public static class WireTexts
{
    /// <summary>A stray byte: "JSON parse error, stray 'c'"; bytes from 0x80 (0xFF, the sync delimiter) show as U+FFFD.</summary>
    public static string Stray(byte b) => "JSON parse error, stray '" + (b >= 0x80 ? "\uFFFD" : ((char)b).ToString()) + "'";

    /// <summary>A '}', ']', ':' or ',' where a value should start.</summary>
    public const string ExpectingValue = "JSON parse error, expecting value";

    /// <summary>Text framed as JSON that the strict parse refused; <paramref name="detail"/> names the fault, never the input.</summary>
    public static string ParseError(string detail) => "JSON parse error, " + detail;

    /// <summary>The reply text for a framing outcome other than <see cref="JsonFrameKind.Message"/> and <see cref="JsonFrameKind.None"/>.</summary>
    public static string ForFrame(JsonFrame frame) => frame.Kind switch
    {
        JsonFrameKind.StrayByte => Stray(frame.Byte),
        JsonFrameKind.UnexpectedByte => ExpectingValue,
        JsonFrameKind.TooLarge => "JSON token size limit exceeded",
        JsonFrameKind.TooDeep => "JSON nesting depth limit exceeded",
        JsonFrameKind.TooManyTokens => "JSON token count limit exceeded",
        _ => "JSON parse error",
    };

    /// <summary>
    /// qemu's wording for why System.Text.Json refused a framed message. The exception's own
    /// text is not used: it quotes the (peer-chosen) input.
    /// </summary>
    public static string Describe(JsonException ex)
    {
        string m = ex.Message;
        if (m.IndexOf("uplicate", StringComparison.Ordinal) >= 0)
        {
            return "duplicate key";
        }

        if (m.IndexOf("after a property name", StringComparison.Ordinal) >= 0 || m.IndexOf("after a value", StringComparison.Ordinal) >= 0 || m.IndexOf("',' or '}'", StringComparison.Ordinal) >= 0)
        {
            return "expected separator in dict";
        }

        if (m.IndexOf("',' or ']'", StringComparison.Ordinal) >= 0)
        {
            return "expected separator in list";
        }

        return "invalid JSON";
    }
}
