# The bulk frames' CRC32C in the module (issue 19, stage 7). The module's QemuGuest.Protocol is the
# netstandard2.0 build: it cannot name the CPU's CRC32C instruction, so on .NET 8+ it compiles a loop
# over BitOperations.Crc32C at run time, and Windows PowerShell 5.1 keeps the table. Here, in pwsh,
# the compiled path must be the one in use and must agree with the table on random data (lengths
# 0 to 1 MiB, odd offsets, tails of 1-7 bytes). Internal members, reached by reflection.

BeforeAll {
    # The module loads its dependencies into a context of its own; the same file is loaded here
    # into a fresh one, so the type is reached whichever cmdlet ran first.
    $dll = Join-Path $env:QEMUGUEST_MODULE_PATH 'Dependencies/QemuGuest.Protocol.dll'
    $context = [System.Runtime.Loader.AssemblyLoadContext]::new('bulk-checksum-test', $true)
    $script:Crc = $context.LoadFromAssemblyPath((Resolve-Path $dll).Path).GetType('QemuGuest.Protocol.Framing.Crc32C', $true)
    $flags = [Reflection.BindingFlags] 'NonPublic, Static'
    $script:Table = $Crc.GetMethod('ComputeTable', $flags)
    $script:Implementation = $Crc.GetProperty('Implementation', $flags)
    if (-not $Table -or -not $Implementation) { throw 'Crc32C.ComputeTable / Implementation are gone: this file tests nothing without them' }
}

Describe 'CRC32C of bulk frames in the module' {
    It 'loads the netstandard2.0 build and uses its compiled path on this runtime' {
        $Crc.Assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false).FrameworkName | Should -Be '.NETStandard,Version=v2.0'
        $Implementation.GetValue($null) | Should -Be 'compiled'
    }

    It 'agrees with the table on random data' {
        $random = [Random]::new(19)
        $data = [byte[]]::new(1MB + 64)
        $random.NextBytes($data)
        $lengths = @(0..40) + @(1..60 | ForEach-Object { $random.Next(0, 1MB) }) + @(1MB)
        foreach ($count in $lengths) {
            $offset = $random.Next(0, 64)
            $expected = $Table.Invoke($null, @($data, $offset, $count))
            $Crc::Compute($data, $offset, $count) | Should -Be $expected -Because "$count bytes from offset $offset"
        }
    }

    It 'gives the published check value of "123456789" both ways' {
        $check = [Text.Encoding]::ASCII.GetBytes('123456789')
        $Crc::Compute($check, 0, 9) | Should -Be ([uint32] 3808858755)
        $Table.Invoke($null, @($check, 0, 9)) | Should -Be ([uint32] 3808858755)
    }
}
