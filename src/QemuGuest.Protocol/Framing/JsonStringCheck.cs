using System;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The string checks QEMU's JSON parser makes and System.Text.Json defers: a string (value or
/// member name) must be valid UTF-8, and a <c>\u</c> escape must not be a lone surrogate.
/// JsonDocument accepts both and throws InvalidOperationException only when the string is
/// read, deep inside whoever reads it, so everything that parses an untrusted message runs
/// this first (the agent before answering, the relay before checking).
/// </summary>
public static class JsonStringCheck
{

    /// <summary>
    /// Null when every string in <paramref name="message"/> (one framed message; single-quoted
    /// strings count too) is well formed; else qemu-ga's error text without the "JSON parse
    /// error, " prefix: <c>invalid UTF-8 sequence in string</c> or
    /// <c>\ud800 is not a valid Unicode character</c>.
    /// </summary>
    public static string? FindError(ReadOnlySpan<byte> message)
    {
        byte quote = 0;
        int i = 0;
        while (i < message.Length)
        {
            byte b = message[i];
            if (quote == 0)
            {
                if (b is (byte)'"' or (byte)'\'')
                {
                    quote = b;
                }

                i++;
                continue;
            }

            if (b is not ((byte)'\\' or >= 0x80) && b != quote)
            {
                // A megabyte of base64 is one vectorized scan.
                int stop = StringRun.IndexOfStop(message.Slice(i), quote, 0x00, 0x7F);
                if (stop < 0)
                {
                    break;
                }

                i += stop;
                continue;
            }

            if (b == quote)
            {
                quote = 0;
                i++;
            }
            else if (b == (byte)'\\')
            {
                if (i + 1 < message.Length && message[i + 1] == (byte)'u')
                {
                    string? error = CheckEscape(message, i, out int length);
                    if (error is not null)
                    {
                        return error;
                    }

                    i += length;
                }
                else
                {
                    i += 2;
                }
            }
            else if (b < 0x80)
            {
                i++;
            }
            else
            {
                int length = Utf8SequenceLength(message.Slice(i));
                if (length == 0)
                {
                    return "invalid UTF-8 sequence in string";
                }

                i += length;
            }
        }

        return null;
    }

    /// <summary>A <c>\uXXXX</c> at <paramref name="at"/>: a surrogate must be a high one followed by a low one.</summary>
    private static string? CheckEscape(ReadOnlySpan<byte> s, int at, out int length)
    {
        length = 2;
        int cp = Hex4(s, at + 2);
        if (cp < 0)
        {
            // Not an escape the parser accepts at all: it reports that itself.
            return null;
        }

        length = 6;
        if (cp is < 0xD800 or > 0xDFFF)
        {
            return null;
        }

        if (cp <= 0xDBFF && at + 11 < s.Length && s[at + 6] == (byte)'\\' && s[at + 7] == (byte)'u')
        {
            int low = Hex4(s, at + 8);
            if (low is >= 0xDC00 and <= 0xDFFF)
            {
                length = 12;
                return null;
            }
        }

        return System.Text.Encoding.ASCII.GetString(s.Slice(at, 6).ToArray()) + " is not a valid Unicode character";
    }

    private static int Hex4(ReadOnlySpan<byte> s, int at)
    {
        if (at + 4 > s.Length)
        {
            return -1;
        }

        int v = 0;
        for (int k = 0; k < 4; k++)
        {
            byte c = s[at + k];
            int d = c is >= (byte)'0' and <= (byte)'9' ? c - '0'
                : c is >= (byte)'a' and <= (byte)'f' ? c - 'a' + 10
                : c is >= (byte)'A' and <= (byte)'F' ? c - 'A' + 10
                : -1;
            if (d < 0)
            {
                return -1;
            }

            v = (v << 4) | d;
        }

        return v;
    }

    /// <summary>Length of the well-formed UTF-8 sequence (RFC 3629, no surrogates, no overlongs) starting <paramref name="s"/>, else 0.</summary>
    private static int Utf8SequenceLength(ReadOnlySpan<byte> s)
    {
        byte lead = s[0];
        int length;
        byte min = 0x80;
        byte max = 0xBF;
        if (lead is >= 0xC2 and <= 0xDF)
        {
            length = 2;
        }
        else if (lead is >= 0xE0 and <= 0xEF)
        {
            length = 3;
            if (lead == 0xE0)
            {
                min = 0xA0;
            }
            else if (lead == 0xED)
            {
                max = 0x9F;
            }
        }
        else if (lead is >= 0xF0 and <= 0xF4)
        {
            length = 4;
            if (lead == 0xF0)
            {
                min = 0x90;
            }
            else if (lead == 0xF4)
            {
                max = 0x8F;
            }
        }
        else
        {
            return 0;
        }

        if (s.Length < length || s[1] < min || s[1] > max)
        {
            return 0;
        }

        for (int k = 2; k < length; k++)
        {
            if (s[k] is < 0x80 or > 0xBF)
            {
                return 0;
            }
        }

        return length;
    }
}
