using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CsCheck;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// Property tests over every type of the real schema (the code generated into QemuGuest.Protocol):
/// random valid JSON (built from the descriptor tables) → ReadJson → WriteJson → same JSON, and
/// ReadJson again → an equal record; and, for any JSON thrown at any type, the generated reader and
/// the descriptor-driven validator accept or refuse it with the same QEMU text.
/// </summary>
public sealed class RoundTripTests
{
    private static readonly TypeUniverse Real = new(typeof(GuestAgentCommands).Assembly, "QemuGuest.Protocol.Qga", typeof(QgaSchemaDescriptors));

    /// <summary>The "variants" scenario (every built-in, union with an empty branch, alternate), compiled in memory.</summary>
    private static readonly Lazy<TypeUniverse> Variants = new(() =>
    {
        var (_, output, diagnostics) = GeneratorHarness.Run(BaselineTests.ScenarioFiles("variants"), "types,validation");
        Assert.Empty(diagnostics);
        using var ms = new MemoryStream();
        var emit = output.Emit(ms);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        ms.Position = 0;
        var asm = new System.Runtime.Loader.AssemblyLoadContext("scenario-variants").LoadFromStream(ms);
        return new TypeUniverse(asm, "Scenario.Qga", asm.GetType("Scenario.Qga.QgaSchemaDescriptors", true)!);
    });

    /// <summary>Every type descriptor of the real schema with its generated C# type.</summary>
    public static IEnumerable<object[]> Types() => Real.Names().Select(n => new object[] { n });

    [Fact]
    public void EveryEmittedTypeIsCovered()
    {
        // Guard against the reflection silently finding nothing.
        Assert.True(Real.Names().Count() > 50, "expected the real schema's types, found " + Real.Names().Count());
        Assert.Equal(
            new[] { "Circle", "Numbers", "Rect", "Shape", "ShapeEchoArguments", "ShapeKind", "Where" },
            Variants.Value.Names());
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void RandomValuesRoundTrip(string name) => Real.RoundTrip(name, 100);

    [Theory]
    [MemberData(nameof(Types))]
    public void ReaderAndValidatorAgreeOnAnyInput(string name) => Real.Agree(name, 100);

    [Fact]
    public void ScenarioVariantsRoundTrips()
    {
        foreach (var name in Variants.Value.Names())
        {
            Variants.Value.RoundTrip(name, 300);
            Variants.Value.Agree(name, 300);
        }
    }
}
