using System;
using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// The config symbols an 'if' condition may name. An unknown symbol is an error, not "false":
/// the run-time platform (QgaPlatform) can only define symbols it knows, so a misspelt or renamed
/// symbol (QEMU has a pending CONFIG_WIN32 → CONFIG_WIN64 rename) would silently drop every command
/// it guards. A symbol added here must also be defined, for the OSes that have it, by QgaPlatform
/// (src/QemuGuest.Protocol/Validation/QapiConditions.cs) or the agent (Core/AgentContext.cs); the
/// generated <c>QgaCommandTable.ConfigSymbols</c> carries this list so a test can check both sides.
/// </summary>
internal static class ConfigSymbols
{
    /// <summary>QEMU's qga build symbols (meson config_host.h) that qga's schema uses or a platform defines.</summary>
    public static readonly string[] Known =
    {
        "CONFIG_POSIX", "CONFIG_LINUX", "CONFIG_BSD", "CONFIG_FREEBSD", "CONFIG_DARWIN",
        "CONFIG_WIN32", "CONFIG_QGA_VSS",
        "CONFIG_FSFREEZE", "CONFIG_FSTRIM", "CONFIG_LIBUDEV", "CONFIG_GETLOADAVG",
        "HAVE_GETIFADDRS", "HAVE_UTMPX",
    };

    public static List<DiagnosticInfo> Check(QapiSchema schema)
    {
        var result = new List<DiagnosticInfo>();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in schema.Entities)
        {
            void Visit(QapiCondition? condition, SourceLocation at, string where)
            {
                foreach (string symbol in Names(condition))
                {
                    // One report per symbol: a renamed symbol guards dozens of definitions.
                    if (Array.IndexOf(Known, symbol) < 0 && reported.Add(symbol))
                    {
                        result.Add(new DiagnosticInfo(
                            DiagnosticDescriptors.UnknownConfigSymbol.Id,
                            new[] { symbol, where, string.Join(", ", Known) }.ToEquatableArray(),
                            at.File, at.Line, at.Column, 0, 0));
                    }
                }
            }

            string what = e.Name;
            Visit(e.If, e.Location, what);
            foreach (var f in e.Features)
            {
                Visit(f.If, e.Location, what + " feature '" + f.Name + "'");
            }
            switch (e)
            {
                case QapiStruct s:
                    foreach (var m in s.Members)
                    {
                        Visit(m.If, m.Location, what + " member '" + m.Name + "'");
                        foreach (var f in m.Features)
                        {
                            Visit(f.If, m.Location, what + " member '" + m.Name + "' feature '" + f.Name + "'");
                        }
                    }
                    break;
                case QapiEnum en:
                    foreach (var v in en.Values)
                    {
                        Visit(v.If, e.Location, what + " value '" + v.Name + "'");
                    }
                    break;
                case QapiUnion u:
                    foreach (var v in u.Variants)
                    {
                        Visit(v.If, e.Location, what + " branch '" + v.Name + "'");
                    }
                    break;
                case QapiAlternate a:
                    foreach (var v in a.Alternatives)
                    {
                        Visit(v.If, e.Location, what + " branch '" + v.Name + "'");
                    }
                    break;
            }
        }
        return result;
    }

    private static IEnumerable<string> Names(QapiCondition? condition)
    {
        switch (condition)
        {
            case QapiConditionName n:
                yield return n.Name;
                break;
            case QapiConditionAll all:
                foreach (var c in all.Conditions)
                {
                    foreach (var n in Names(c))
                    {
                        yield return n;
                    }
                }
                break;
            case QapiConditionAny any:
                foreach (var c in any.Conditions)
                {
                    foreach (var n in Names(c))
                    {
                        yield return n;
                    }
                }
                break;
            case QapiConditionNot not:
                foreach (var n in Names(not.Condition))
                {
                    yield return n;
                }
                break;
        }
    }
}
