using System.Linq;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// A platform symbol the generator does not know is never named by a condition (the generator
/// rejects unknown ones, QG0006), so defining it does nothing: a misspelling on this side would
/// silently drop the commands it was meant to enable.
/// </summary>
public sealed class ConfigSymbolTests
{
    [Fact]
    public void Every_symbol_a_platform_defines_is_one_conditions_may_name()
    {
        var known = QemuGuest.Agent.QgaCommandTable.ConfigSymbols;
        var platforms = new[] { QgaPlatform.Linux, QgaPlatform.Windows, QgaPlatform.FreeBsd, QgaPlatform.MacOS, AgentContext.DetectPlatform() };
        var unknown = platforms.SelectMany(p => p.Symbols).Distinct().Where(s => !known.Contains(s)).ToArray();
        Assert.Empty(unknown);
        Assert.Contains("CONFIG_WIN32", QgaPlatform.Windows.Symbols);
    }
}
