using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>
/// Hostile folder listings for a recursive copy out of the guest (issue 15): names that are
/// not one path component, duplicates, and listings that never end, through both listing
/// strategies the cmdlets use (our list extension, and find's output through guest-exec).
/// A path whose last component is "tree" is the folder being copied; every other path is an
/// (empty) file, except the folders the listing itself announces.
/// </summary>
public static class HostileListings
{
    public static IReadOnlyDictionary<string, string> Modes { get; } = new Dictionary<string, string>
    {
        ["list-names"] = "our list extension lists ../../x, an absolute path, a\\b, a NUL, control characters, duplicates, case twins, a 300-character name",
        ["find-names"] = "the same names as find output through guest-exec (stock-agent strategy)",
        ["list-recurse"] = "every listed folder holds 100 more folders, forever",
        ["list-paging-stuck"] = "every page says more follow and repeats the same entry (after never advances)",
        ["list-paging-endless"] = "pages that advance forever, 10,000 new names each",
        ["list-absurd"] = "our list extension lists sizes and times at the ends of 64 bits (negative, maximal) and modes with stray high bits",
    };

    /// <summary>The hostile names, for the folder <paramref name="root"/> (the absolute one lands beside it).</summary>
    public static string[] Names(string root) => new[]
    {
        "../../x", root + "-abs", "a\\b", "a\0b", "esc\u001b]0;pwned\u0007", "dup", "dup", "Case", "case", "good.txt", "lnk\\..\\..\\escaped", "..", ".", "", new string('n', 300),
    };

    public static bool TryApply(FakeAgent agent, string mode)
    {
        switch (mode)
        {
            case "list-names":
                agent.Handler = r => ListReply(r, path => IsRoot(path)
                    ? Page(Names(path!).Select(n => (n, "file")).Append(("sub", "directory")), truncated: false)
                    : Page(new[] { ("ok.txt", "file"), ("..", "directory") }, truncated: false));
                return true;
            case "find-names":
                agent.Handler = FindReply;
                return true;
            case "list-recurse":
                agent.Handler = r => ListReply(r, _ => Page(Enumerable.Range(0, 100).Select(i => ("d" + i.ToString("D2", CultureInfo.InvariantCulture), "directory")), truncated: false));
                return true;
            case "list-absurd":
                agent.Handler = r => ListReply(r, _ => "{\"return\": {\"path\": \"/\", \"truncated\": false, \"entries\": ["
                    + "{\"name\": \"huge\", \"type\": \"file\", \"size\": 9223372036854775807, \"mode\": -1, \"mtime\": 9223372036854775807}, "
                    + "{\"name\": \"negative\", \"type\": \"file\", \"size\": -5, \"mode\": 2147483647, \"mtime\": -9223372036854775808}]}}");
                return true;
            case "list-paging-stuck":
                agent.Handler = r => ListReply(r, _ => Page(new[] { ("same", "file") }, truncated: true));
                return true;
            case "list-paging-endless":
                agent.Handler = r => ListReply(r, _ =>
                {
                    string after = r.StringArgument("after") ?? "p00000000";
                    long page = long.Parse(after.Substring(1, 8), CultureInfo.InvariantCulture) + 1;
                    return Page(Enumerable.Range(0, 10_000).Select(i => ("p" + page.ToString("D8", CultureInfo.InvariantCulture) + "-" + i.ToString("D5", CultureInfo.InvariantCulture), "file")), truncated: true);
                });
                return true;
            default:
                return false;
        }
    }

    private static bool IsRoot(string? path) => path is not null && path.TrimEnd('/').EndsWith("/tree", StringComparison.Ordinal);

    private static string Info(params string[] extra) => "{\"return\": {\"version\": \"7.2.0\", \"supported_commands\": ["
        + string.Join(", ", new[] { "guest-sync-delimited", "guest-sync", "guest-ping", "guest-info", "guest-get-host-name", "guest-file-open", "guest-file-close", "guest-file-read", "guest-file-write", "guest-file-seek", "guest-file-flush" }
            .Concat(extra).Select(n => "{\"name\": \"" + n + "\", \"enabled\": true, \"success-response\": true}"))
        + "]}}";

    private static string Page(IEnumerable<(string Name, string Type)> entries, bool truncated)
    {
        // Sorted as the schema promises, so only the lie under test is wrong.
        var sorted = entries.ToList();
        sorted.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var sb = new StringBuilder("{\"return\": {\"path\": \"/\", \"truncated\": ").Append(truncated ? "true" : "false").Append(", \"entries\": [");
        for (int i = 0; i < sorted.Count; i++)
        {
            sb.Append(i == 0 ? "" : ", ").Append("{\"name\": ").Append(JsonSerializer.Serialize(sorted[i].Name))
                .Append(", \"type\": \"").Append(sorted[i].Type).Append("\", \"size\": 0, \"mode\": 420, \"mtime\": 0}");
        }
        return sb.Append("]}}").ToString();
    }

    private static Task ListReply(FakeRequest r, Func<string?, string> listing) => r.Command switch
    {
        "guest-info" => r.ReplyAsync(Info("__com.qemuguest_guest-file-stat", "__com.qemuguest_guest-file-list")),
        "__com.qemuguest_guest-file-stat" => r.ReplyAsync(IsRoot(r.StringArgument("path"))
            ? "{\"return\": {\"type\": \"directory\", \"size\": 4096, \"mode\": 493, \"mtime\": 0}}"
            : "{\"return\": {\"type\": \"file\", \"size\": 0, \"mode\": 420, \"mtime\": 0}}"),
        "__com.qemuguest_guest-file-list" => r.ReplyAsync(listing(r.StringArgument("path"))),
        _ => FakeAgent.Normal(r),
    };

    private static Task FindReply(FakeRequest r)
    {
        switch (r.Command)
        {
            case "guest-info":
                return r.ReplyAsync(Info("guest-exec", "guest-exec-status"));
            case "guest-file-open":
                return r.ReplyAsync(IsRoot(r.StringArgument("path")) ? "{\"return\": 2000}" : "{\"return\": 1000}");
            case "guest-file-read" when r.Arguments.TryGetProperty("handle", out var h) && h.GetInt64() == 2000:
                return r.ReplyAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"failed to read file: Is a directory\"}}");
            case "guest-exec":
                // find's first argument that is not an option is the folder listed.
                string root = r.Arguments.TryGetProperty("arg", out var a)
                    ? a.EnumerateArray().Select(x => x.GetString() ?? "").FirstOrDefault(x => !x.StartsWith("-", StringComparison.Ordinal)) ?? ""
                    : "";
                Last = root;
                return r.ReplyAsync("{\"return\": {\"pid\": 4242}}");
            case "guest-exec-status":
                var records = new StringBuilder();
                foreach (string n in Names(Last).Where(n => n.IndexOf('\0') < 0 && n.Length > 0))
                {
                    records.Append("f 0 644 1700000000.5 ").Append(n).Append('\0');
                }
                // find's %y %s %m %T@ %P; two times are absurd on purpose (year 5138, and past any 64-bit count).
                records.Append("d 4096 755 99999999999 sub\0f 0 644 1700000000 sub/ok.txt\0f 0 644 123456789012345678901234567890.999 sub/../../../y\0f 0 644 0 nosuchdir/z\0");
                return r.ReplyAsync("{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": \"" + Convert.ToBase64String(Encoding.UTF8.GetBytes(records.ToString())) + "\"}}");
            default:
                return FakeAgent.Normal(r);
        }
    }

    private static string Last { get; set; } = "";
}
