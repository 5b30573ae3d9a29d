using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace QemuGuest.Protocol.Validation;

/// <summary>A schema 'if' condition as run-time data: a config symbol, or all/any/not.</summary>
public abstract class QgaCondition
{
    private protected QgaCondition()
    {
    }

    public static QgaCondition Symbol(string name) => new SymbolCondition(name);

    public static QgaCondition All(params QgaCondition[] conditions) => new AllCondition(conditions);

    public static QgaCondition Any(params QgaCondition[] conditions) => new AnyCondition(conditions);

    public static QgaCondition Not(QgaCondition condition) => new NotCondition(condition);

    /// <summary>True when the condition holds on <paramref name="platform"/>.</summary>
    public abstract bool Evaluate(QgaPlatform platform);

    private sealed class SymbolCondition : QgaCondition
    {
        private readonly string _name;

        public SymbolCondition(string name) => _name = name;

        public override bool Evaluate(QgaPlatform platform) => platform.IsDefined(_name);

        public override string ToString() => _name;
    }

    private sealed class AllCondition : QgaCondition
    {
        private readonly QgaCondition[] _conditions;

        public AllCondition(QgaCondition[] conditions) => _conditions = conditions;

        public override bool Evaluate(QgaPlatform platform) => Array.TrueForAll(_conditions, c => c.Evaluate(platform));

        public override string ToString() => "all(" + string.Join(", ", (object[])_conditions) + ")";
    }

    private sealed class AnyCondition : QgaCondition
    {
        private readonly QgaCondition[] _conditions;

        public AnyCondition(QgaCondition[] conditions) => _conditions = conditions;

        public override bool Evaluate(QgaPlatform platform) => Array.Exists(_conditions, c => c.Evaluate(platform));

        public override string ToString() => "any(" + string.Join(", ", (object[])_conditions) + ")";
    }

    private sealed class NotCondition : QgaCondition
    {
        private readonly QgaCondition _condition;

        public NotCondition(QgaCondition condition) => _condition = condition;

        public override bool Evaluate(QgaPlatform platform) => !_condition.Evaluate(platform);

        public override string ToString() => "not(" + _condition + ")";
    }
}

/// <summary>
/// The config symbols QEMU's qga build would define on an OS, so that one agent binary per OS
/// exposes the command set the stock agent exposes there. Unknown symbols are false.
/// <list type="table">
/// <item><term>Linux</term><description>CONFIG_POSIX, CONFIG_LINUX, CONFIG_FSFREEZE, CONFIG_FSTRIM, HAVE_GETIFADDRS</description></item>
/// <item><term>FreeBSD</term><description>CONFIG_POSIX, CONFIG_BSD, CONFIG_FREEBSD, CONFIG_FSFREEZE, HAVE_GETIFADDRS</description></item>
/// <item><term>macOS</term><description>CONFIG_POSIX, CONFIG_BSD, CONFIG_DARWIN, HAVE_GETIFADDRS</description></item>
/// <item><term>Windows</term><description>CONFIG_WIN32, CONFIG_QGA_VSS</description></item>
/// </list>
/// </summary>
public sealed class QgaPlatform
{
    private readonly HashSet<string> _symbols;

    public QgaPlatform(IEnumerable<string> symbols) => _symbols = new HashSet<string>(symbols, StringComparer.Ordinal);

    public static QgaPlatform Linux { get; } = new(new[] { "CONFIG_POSIX", "CONFIG_LINUX", "CONFIG_FSFREEZE", "CONFIG_FSTRIM", "HAVE_GETIFADDRS" });

    public static QgaPlatform FreeBsd { get; } = new(new[] { "CONFIG_POSIX", "CONFIG_BSD", "CONFIG_FREEBSD", "CONFIG_FSFREEZE", "HAVE_GETIFADDRS" });

    public static QgaPlatform MacOS { get; } = new(new[] { "CONFIG_POSIX", "CONFIG_BSD", "CONFIG_DARWIN", "HAVE_GETIFADDRS" });

    public static QgaPlatform Windows { get; } = new(new[] { "CONFIG_WIN32", "CONFIG_QGA_VSS" });

    /// <summary>Nothing defined: only unconditional commands.</summary>
    public static QgaPlatform None { get; } = new(Array.Empty<string>());

    /// <summary>The platform this process runs on.</summary>
    public static QgaPlatform Current { get; } = Detect();

    public IEnumerable<string> Symbols => _symbols;

    public bool IsDefined(string symbol) => _symbols.Contains(symbol);

    private static QgaPlatform Detect()
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return Windows;
        }
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            return Linux;
        }
        if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
        {
            return MacOS;
        }
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Create("FREEBSD")))
        {
            return FreeBsd;
        }
        return None;
    }
}
