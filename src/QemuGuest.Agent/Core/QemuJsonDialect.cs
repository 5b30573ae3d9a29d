using System;
using System.Buffers;

namespace QemuGuest.Agent.Core;

/// <summary>
/// QEMU's JSON parser accepts single-quoted strings (<c>{'execute': 'guest-ping'}</c>), and the
/// stock agent therefore does too. System.Text.Json does not, so one already-framed message
/// that contains a single quote is rewritten to standard JSON before parsing: a single-quoted
/// string becomes double-quoted, its <c>\'</c> becomes <c>'</c> and a bare <c>"</c> inside it
/// becomes <c>\"</c>. Double-quoted strings are copied unchanged (a <c>\'</c> escape in them,
/// also a QEMU extension, becomes <c>'</c>).
/// </summary>
public static class QemuJsonDialect
{
    public static byte[] ToStandardJson(ReadOnlySpan<byte> input)
    {
        var output = new ArrayBufferWriter<byte>(input.Length + 16);
        byte quote = 0; // 0 outside strings, else the opening quote
        for (int i = 0; i < input.Length; i++)
        {
            byte b = input[i];
            if (quote == 0)
            {
                if (b == '\'' || b == '"')
                {
                    quote = b;
                    Put(output, (byte)'"');
                }
                else
                {
                    Put(output, b);
                }

                continue;
            }

            if (b == '\\' && i + 1 < input.Length)
            {
                byte next = input[++i];
                if (next == '\'')
                {
                    Put(output, (byte)'\'');
                }
                else
                {
                    Put(output, (byte)'\\');
                    Put(output, next);
                }

                continue;
            }

            if (b == quote)
            {
                quote = 0;
                Put(output, (byte)'"');
                continue;
            }

            if (b == '"' && quote == '\'')
            {
                Put(output, (byte)'\\');
                Put(output, (byte)'"');
                continue;
            }

            Put(output, b);
        }

        return output.WrittenSpan.ToArray();
    }

    private static void Put(ArrayBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }
}
