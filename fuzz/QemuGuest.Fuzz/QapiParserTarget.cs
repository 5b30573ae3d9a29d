using System;
using System.Collections.Generic;
using System.Text;
using QemuGuest.Schema;

namespace QemuGuest.Fuzz;

/// <summary>
/// The QAPI schema parser and checker. The input is up to three files separated by NUL bytes:
/// <c>main.json</c>, <c>a.json</c> and <c>b.json</c> (so includes, include cycles and errors in
/// included files are reachable). Anything but a parsed schema or a <see cref="SchemaError"/>
/// that points into one of those files with a line and column is a crash.
/// </summary>
public sealed class QapiParserTarget : IFuzzTarget
{
    private static readonly string[] Names = { "main.json", "a.json", "b.json" };

    public void Run(ReadOnlySpan<byte> input)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        int file = 0;
        while (file < Names.Length)
        {
            int nul = input.IndexOf((byte)0);
            ReadOnlySpan<byte> part = nul < 0 ? input : input.Slice(0, nul);
            files[Names[file++]] = Encoding.UTF8.GetString(part);
            if (nul < 0)
            {
                break;
            }

            input = input.Slice(nul + 1);
        }

        try
        {
            SchemaLoader.Load("main.json", path => files.TryGetValue(path, out string? text) ? text : null);
        }
        catch (SchemaError e)
        {
            if (e.Location.Line < 1 || e.Location.Column < 1 || string.IsNullOrEmpty(e.Text))
            {
                throw new InvariantViolation($"a schema error without a location or text: {e.Location.Line}:{e.Location.Column} '{e.Text}'");
            }
        }
    }
}
