# The module's Windows-guest strategies against our Windows agent under Wine (issue 21, stage 3):
# the win-x64 agent on isa-serial (COM1 -> pty -> unix socket, tests/QemuGuest.HostileAgent/
# WineAgent.cs), reached like a VM's chardev. Two profiles: 'Stock' is our agent with every
# QemuGuest extension blocked (-b), so guest-info lists exactly what a stock Windows qemu-ga
# offers and the module takes its stock paths (cmd /c move, del, mkdir, chcp); 'Ours' has the
# extensions. Wine maps Z: to the host's /, so what the guest wrote is checked on the host's disk.
#
# Run by build.ps1 Test's row "Windows guest under Wine (Pester)", which publishes the agent and
# sets $env:QEMUGUEST_WINE_AGENT. Without it (or without Wine) every test fails with the reason:
# this file exists to run Windows code, and a skip would pass without having run any.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $env:QEMUGUEST_REPO_ROOT 'tests/pester/AgentHelpers.ps1')

    if (-not $env:QEMUGUEST_WINE_AGENT) { throw 'QEMUGUEST_WINE_AGENT is not set: run through build.ps1 Test (row "Windows guest under Wine"), which publishes the win-x64 agent' }
    if (-not (Test-Path /usr/lib/wine/wine64)) { throw 'Wine is missing: apt-get install --no-install-recommends wine64 wine (build.ps1 Test installs it)' }

    # Every QemuGuest extension, read from the schema that defines them (a hand-kept list went stale
    # when an extension was added): blocked, the agent is a stock one to the module.
    $schemaText = Get-Content -Raw -LiteralPath (Join-Path $env:QEMUGUEST_REPO_ROOT 'schema/qga-qemuguest.json')
    $script:Extensions = @([regex]::Matches($schemaText, "'command':\s*'(__com\.qemuguest_[^']+)'") | ForEach-Object { $_.Groups[1].Value })
    if ($Extensions.Count -lt 12) { throw "found only $($Extensions.Count) extensions in schema/qga-qemuguest.json" }

    function ConvertTo-WinePath([string] $LinuxPath) { 'Z:' + $LinuxPath.Replace('/', '\') }

    function New-RandomFile([string] $Path, [int] $Bytes, [int] $Seed) {
        $buf = [byte[]]::new($Bytes); [Random]::new($Seed).NextBytes($buf)
        [IO.File]::WriteAllBytes($Path, $buf)
    }

    function Get-Sha([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash }
}

Describe 'Windows guest strategies under Wine, <_> profile' -ForEach 'Stock', 'Ours' {
    BeforeAll {
        $blocked = if ($_ -eq 'Stock') { @('-b', ($Extensions -join ',')) } else { @() }
        $script:Profile = $_
        $script:Agent, $script:S = Start-AgentSession -Kind Wine -Name "wine-$_" -ExtraArguments $blocked -ConnectTimeoutSec 120
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-win-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
        $script:GT = ConvertTo-WinePath $T
        $script:Local = Join-Path $T 'local'
        $null = New-Item -ItemType Directory -Path $Local
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'the agent offers the profile the tests claim' {
        $info = Invoke-VMGuestRpc -Session $S -Command guest-info
        $enabled = @($info.supported_commands | Where-Object enabled | ForEach-Object name)
        $enabled | Should -Contain 'guest-exec'
        $enabled | Should -Contain 'guest-file-open'
        if ($Profile -eq 'Stock') { $enabled | Where-Object { $_ -like '__com.qemuguest_*' } | Should -BeNullOrEmpty }
        else { $enabled | Should -Contain '__com.qemuguest_guest-file-rename' }
        (Invoke-VMGuestRpc -Session $S -Command guest-get-osinfo).id | Should -Be 'mswindows'
    }

    Context 'Copy-VMGuestFile into and out of the guest' {
        It 'copies into a folder with spaces and non-ASCII names, and back out' {
            $dir = Join-Path $T "in $Profile with spaces"
            $null = New-Item -ItemType Directory -Path $dir
            $src = Join-Path $Local "naïve-$Profile.bin"
            New-RandomFile $src 300000 1
            $guest = (ConvertTo-WinePath $dir) + "\Zürich € ü $Profile.bin"
            $r = Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination $guest -PassThru -ErrorAction Stop
            $r.Atomic | Should -BeTrue
            $onHost = Join-Path $dir "Zürich € ü $Profile.bin"
            Get-Sha $onHost | Should -Be (Get-Sha $src)
            # No temporary name left beside it: the rename (cmd /c move for Stock) took it.
            @(Get-ChildItem -LiteralPath $dir -Name) | Should -Be @("Zürich € ü $Profile.bin")

            $back = Join-Path $Local "back-$Profile.bin"
            Copy-VMGuestFile -Session $S -GuestToLocal -LiteralPath $guest -Destination $back -ErrorAction Stop
            Get-Sha $back | Should -Be (Get-Sha $src)
        }

        It 'replaces an existing file only with -Force' {
            $dir = Join-Path $T "replace $Profile"
            $null = New-Item -ItemType Directory -Path $dir
            Set-Content -LiteralPath (Join-Path $dir 'target.txt') -Value 'old' -NoNewline
            $src = Join-Path $Local "new-$Profile.txt"
            Set-Content -LiteralPath $src -Value 'new contents' -NoNewline
            $guest = (ConvertTo-WinePath $dir) + '\target.txt'
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination $guest -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationExists*'
            Get-Content -Raw -LiteralPath (Join-Path $dir 'target.txt') | Should -Be 'old'
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination $guest -Force -ErrorAction Stop
            Get-Content -Raw -LiteralPath (Join-Path $dir 'target.txt') | Should -Be 'new contents'
            @(Get-ChildItem -LiteralPath $dir -Name) | Should -Be @('target.txt')
        }

        It 'keeps cmd.exe metacharacters in names literal (<_>)' -ForEach 'a&b ^c %PATH% (1)!x.txt', 'x&y%OS%^z.txt' {
            # cmd /c parses its command line again: % expands even in quotes, and an & outside
            # quotes (the agent quotes only arguments with spaces) starts a second command.
            $dir = Join-Path $T "meta $Profile $([guid]::NewGuid().ToString('n').Substring(0, 6))"
            $null = New-Item -ItemType Directory -Path $dir
            $src = Join-Path $Local "meta-$Profile.txt"
            Set-Content -LiteralPath $src -Value 'meta' -NoNewline
            Set-Content -LiteralPath (Join-Path $dir $_) -Value 'old' -NoNewline
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination ((ConvertTo-WinePath $dir) + "\$_") -Force -ErrorAction Stop
            Get-Content -Raw -LiteralPath (Join-Path $dir $_) | Should -Be 'meta'
            @(Get-ChildItem -LiteralPath $dir -Name) | Should -Be @($_)
        }

        It 'creates a missing folder with -Force (cmd /c mkdir for Stock), through a lower-case drive letter and forward slashes' {
            $src = Join-Path $Local "mk-$Profile.txt"
            Set-Content -LiteralPath $src -Value 'mk' -NoNewline
            $guest = 'z:' + ($T + "/new folder $Profile/sub ä/file.txt")
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination $guest -Force -ErrorAction Stop
            Get-Content -Raw -LiteralPath (Join-Path $T "new folder $Profile/sub ä/file.txt") | Should -Be 'mk'
        }

        It 'copies onto drive C: (the prefix''s drive_c)' {
            $src = Join-Path $Local "c-$Profile.txt"
            Set-Content -LiteralPath $src -Value 'on C' -NoNewline
            $guest = "C:\users\Public\qg-$Profile-$([guid]::NewGuid().ToString('n').Substring(0, 8)).txt"
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination $guest -ErrorAction Stop
            $back = Join-Path $Local "c-back-$Profile.txt"
            Copy-VMGuestFile -Session $S -GuestToLocal -LiteralPath $guest -Destination $back -ErrorAction Stop
            Get-Content -Raw -LiteralPath $back | Should -Be 'on C'
            Test-Path -LiteralPath (Join-Path $Agent.Directory ('prefix/drive_c/users/Public/' + (Split-Path -Leaf $guest))) | Should -BeTrue
        }

        It 'copies a folder tree with -Recurse in, and out (Stock: refused by name)' {
            $tree = Join-Path $Local "tree-$Profile"
            $null = New-Item -ItemType Directory -Path (Join-Path $tree 'sub dir/ñ')
            New-RandomFile (Join-Path $tree 'a.bin') 70000 2
            New-RandomFile (Join-Path $tree 'sub dir/ñ/b é.bin') 5000 3
            $into = Join-Path $T "tree-into-$Profile"
            $null = New-Item -ItemType Directory -Path $into
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $tree -Destination (ConvertTo-WinePath $into) -Recurse -ErrorAction Stop
            Get-Sha (Join-Path $into "tree-$Profile/sub dir/ñ/b é.bin") | Should -Be (Get-Sha (Join-Path $tree 'sub dir/ñ/b é.bin'))
            $out = Join-Path $Local "tree-out-$Profile"
            if ($Profile -eq 'Stock') {
                # Listing a Windows folder needs our agent (docs/copy.md): a named refusal, nothing written.
                $err = $null
                Copy-VMGuestFile -Session $S -GuestToLocal -LiteralPath ((ConvertTo-WinePath $into) + "\tree-$Profile") -Destination $out -Recurse -ErrorVariable err -ErrorAction SilentlyContinue
                $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable*'
                # The local root folder is made before the listing is refused; no file lands in it.
                @(Get-ChildItem -Recurse -File $out -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
                return
            }
            Copy-VMGuestFile -Session $S -GuestToLocal -LiteralPath ((ConvertTo-WinePath $into) + "\tree-$Profile") -Destination $out -Recurse -ErrorAction Stop
            Get-Sha (Join-Path $out 'a.bin') | Should -Be (Get-Sha (Join-Path $tree 'a.bin'))
            Get-Sha (Join-Path $out 'sub dir/ñ/b é.bin') | Should -Be (Get-Sha (Join-Path $tree 'sub dir/ñ/b é.bin'))
        }

        It 'answers a UNC path to a server that does not exist with a named error, not a hang' {
            $src = Join-Path $Local "unc-$Profile.txt"
            Set-Content -LiteralPath $src -Value 'unc' -NoNewline
            $err = $null
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath $src -Destination '\\qg-no-such-server\share\x.txt' -ErrorVariable err -ErrorAction SilentlyContinue
            $err | Should -Not -BeNullOrEmpty
            # Under Wine: DestinationFolderNotFound, "The guest folder '\\qg-no-such-server\share' does not exist".
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationFolderNotFound*'
            "$($err[0])" | Should -BeLike '*\\qg-no-such-server\share*'
            $clock.Elapsed.TotalMinutes | Should -BeLessThan 5
        }
    }

    Context 'The QemuGuest drive and Sync-VMGuestItem on a Windows guest' {
        BeforeAll {
            $script:DriveDir = Join-Path $T "drive $Profile"
            $null = New-Item -ItemType Directory -Path (Join-Path $DriveDir 'sub dir/deeper')
            [IO.File]::WriteAllText((Join-Path $DriveDir 'a.txt'), "alpha`r`nbeta`r`n")
            [IO.File]::WriteAllText((Join-Path $DriveDir 'sub dir/c.conf'), 'charlie')
            [IO.File]::WriteAllText((Join-Path $DriveDir 'sub dir/deeper/d.conf'), 'delta')
            $script:W = "w$Profile"
            $null = New-PSDrive -Name $W -PSProvider QemuGuest -Root ((ConvertTo-WinePath $DriveDir) + '\') -Session $S -ErrorAction Stop
        }

        AfterAll {
            Remove-PSDrive -Name $W -ErrorAction SilentlyContinue
        }

        It 'New-PSDrive keeps the guest folder in Windows form (drive letter, backslashes)' {
            (Get-PSDrive $W).GuestRoot | Should -BeExactly (ConvertTo-WinePath $DriveDir)
            (Get-PSDrive $W).Root | Should -BeExactly ''
        }

        It 'Get-Content reads CRLF lines through \ and / paths; Test-Path' {
            @(Get-Content "${W}:\a.txt" -ErrorAction Stop) | Should -Be @('alpha', 'beta')
            @(Get-Content "${W}:/sub dir/c.conf" -ErrorAction Stop) | Should -Be @('charlie')
            Test-Path "${W}:\a.txt" | Should -BeTrue
            Test-Path "${W}:\nothing.txt" | Should -BeFalse
        }

        It 'Set-Content writes the file with CRLF line ends, in the guest only' {
            Set-Content "${W}:\new.txt" -Value 'one', 'two' -ErrorAction Stop
            [IO.File]::ReadAllText((Join-Path $DriveDir 'new.txt')) | Should -BeExactly "one`r`ntwo`r`n"
            Set-Content "${W}:\a.txt" -Value 'replaced' -ErrorAction Stop
            [IO.File]::ReadAllText((Join-Path $DriveDir 'a.txt')) | Should -BeExactly "replaced`r`n"
            @(Get-ChildItem -LiteralPath $DriveDir -Name | Sort-Object) | Should -Be @('a.txt', 'new.txt', 'sub dir')
        }

        It 'Get-ChildItem lists with Windows full names (Stock: refused by name)' {
            if ($Profile -eq 'Stock') {
                # Listing a Windows folder needs our agent's list extension (docs/copy.md).
                $err = $null
                $items = @(Get-ChildItem "${W}:\" -ErrorVariable err -ErrorAction SilentlyContinue)
                $items | Should -BeNullOrEmpty
                $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable*'
                return
            }
            $items = @(Get-ChildItem "${W}:\" -ErrorAction Stop)
            $items.Name | Should -Be @('a.txt', 'new.txt', 'sub dir')
            ($items | Where-Object Name -EQ 'a.txt').FullName | Should -BeExactly ((ConvertTo-WinePath $DriveDir) + '\a.txt')
            ($items | Where-Object Name -EQ 'sub dir').PSIsContainer | Should -BeTrue
            @(Get-ChildItem "${W}:\" -Recurse -Filter *.conf -ErrorAction Stop).FullName | Should -Be @(
                ((ConvertTo-WinePath $DriveDir) + '\sub dir\c.conf'), ((ConvertTo-WinePath $DriveDir) + '\sub dir\deeper\d.conf'))
        }

        It 'Remove-Item removes a file, and a folder with -Recurse' {
            Remove-Item "${W}:\new.txt" -ErrorAction Stop
            Join-Path $DriveDir 'new.txt' | Should -Not -Exist
            Remove-Item "${W}:\sub dir" -Recurse -Confirm:$false -ErrorAction Stop
            Join-Path $DriveDir 'sub dir' | Should -Not -Exist
            Join-Path $DriveDir 'a.txt' | Should -Exist
        }

        It 'Sync-VMGuestItem -LocalToGuest: all files, then none, then the one changed file (Stock: a new folder only, then refused by name)' {
            $src = Join-Path $Local "sync-$Profile"
            $null = New-Item -ItemType Directory -Path (Join-Path $src 'sub ü')
            New-RandomFile (Join-Path $src 'a.bin') 70000 11
            New-RandomFile (Join-Path $src 'sub ü/b.bin') 5000 12
            [IO.File]::WriteAllText((Join-Path $src 'sub ü/c.txt'), 'charlie')
            $target = Join-Path $T "synced $Profile"
            if ($Profile -eq 'Stock') {
                # Into a folder that is not there yet nothing needs listing: every file is copied.
                $first = Sync-VMGuestItem -Session $S -LocalPath $src -GuestPath (ConvertTo-WinePath $target) -LocalToGuest -ErrorAction Stop
                @($first.Copied | Sort-Object) | Should -Be @('a.bin', 'sub ü/b.bin', 'sub ü/c.txt')
                Get-Sha (Join-Path $target 'sub ü/b.bin') | Should -Be (Get-Sha (Join-Path $src 'sub ü/b.bin'))
                # Comparing needs the guest folder's listing, which a stock Windows agent cannot give.
                $err = $null
                $null = Sync-VMGuestItem -Session $S -LocalPath $src -GuestPath (ConvertTo-WinePath $target) -LocalToGuest -ErrorVariable err -ErrorAction SilentlyContinue
                @($err | ForEach-Object FullyQualifiedErrorId) -like 'AgentFeatureUnavailable*' | Should -Not -BeNullOrEmpty
                return
            }
            $first = Sync-VMGuestItem -Session $S -LocalPath $src -GuestPath (ConvertTo-WinePath $target) -LocalToGuest -ErrorAction Stop
            @($first.Copied | Sort-Object) | Should -Be @('a.bin', 'sub ü/b.bin', 'sub ü/c.txt')
            Get-Sha (Join-Path $target 'sub ü/b.bin') | Should -Be (Get-Sha (Join-Path $src 'sub ü/b.bin'))
            $second = Sync-VMGuestItem -Session $S -LocalPath $src -GuestPath (ConvertTo-WinePath $target) -LocalToGuest -ErrorAction Stop
            $second.BytesMoved | Should -Be 0
            $second.Copied | Should -BeNullOrEmpty
            [IO.File]::WriteAllText((Join-Path $src 'sub ü/c.txt'), 'Charlie')
            [IO.File]::SetLastWriteTimeUtc((Join-Path $src 'sub ü/c.txt'), [DateTime]::UtcNow.AddMinutes(1))
            $third = Sync-VMGuestItem -Session $S -LocalPath $src -GuestPath (ConvertTo-WinePath $target) -LocalToGuest -ErrorAction Stop
            @($third.Copied) | Should -Be @('sub ü/c.txt')
            $third.BytesMoved | Should -Be 7
            [IO.File]::ReadAllText((Join-Path $target 'sub ü/c.txt')) | Should -BeExactly 'Charlie'
        }
    }

    Context 'Running programs through cmd.exe' {
        It 'Invoke-VMGuestCommand: cmd /c echo of non-ASCII text comes back as sent (chcp code page)' {
            $r = Invoke-VMGuestCommand -Session $S -FilePath cmd.exe -ArgumentList '/c', 'echo', 'héllo', 'wörld' -ErrorAction Stop
            $r.ExitCode | Should -Be 0
            $r.StdOut | Should -Be "héllo wörld`r`n"
        }

        It 'Invoke-VMGuestCommand: a file with a non-ASCII name is listed by dir as it is on disk' {
            $dir = Join-Path $T "dir-$Profile"
            $null = New-Item -ItemType Directory -Path $dir
            Set-Content -LiteralPath (Join-Path $dir 'café.txt') -Value 'x'
            $r = Invoke-VMGuestCommand -Session $S -FilePath cmd.exe -ArgumentList '/c', 'dir', '/b', (ConvertTo-WinePath $dir) -ErrorAction Stop
            $r.ExitCode | Should -Be 0
            $r.StdOut | Should -Be "café.txt`r`n"
        }

        It 'Invoke-VMGuestCommand: exit codes and standard error of cmd' {
            $r = Invoke-VMGuestCommand -Session $S -FilePath cmd.exe -ArgumentList '/c', 'echo oops 1>&2 & exit 7' -ErrorAction Stop
            $r.ExitCode | Should -Be 7
            $r.StdErr.Trim() | Should -Be 'oops'
        }

        It 'Invoke-VMGuestScript -ScriptType Cmd runs a batch file with non-ASCII text' {
            $r = Invoke-VMGuestScript -Session $S -ScriptType Cmd -ScriptText "@echo off`necho grüße aus %OS%`nexit /b 3" -ErrorAction Stop
            $r.ExitCode | Should -Be 3
            $r.StdOut | Should -Be "grüße aus Windows_NT`r`n"
            # The script file went to C:\Windows\Temp and was removed again.
            @(Get-ChildItem (Join-Path $Agent.Directory 'prefix/drive_c/windows/temp') -Filter 'qemuguest-script-*' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
        }

        It 'Invoke-VMGuestScript -ScriptType Cmd refuses text the console code page cannot hold' {
            # Code page 437 here (Wine's default under LANG=C): no euro sign.
            $err = $null
            $r = Invoke-VMGuestScript -Session $S -ScriptType Cmd -ScriptText 'echo 5 €' -ErrorVariable err -ErrorAction SilentlyContinue
            $r | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument*'
            "$($err[0])" | Should -BeLike "*'€'*code page 437*"
        }

        It 'Invoke-VMGuestScript -ScriptType PowerShell runs powershell.exe (under Wine a stub: no output)' {
            # Wine 8's powershell.exe does nothing and exits 0 (docs/agent-windows.md); the module's
            # part is to hand it the script file, then remove that file.
            $r = Invoke-VMGuestScript -Session $S -ScriptType PowerShell -ScriptText 'Write-Output 1' -ErrorAction Stop
            $r.FilePath | Should -Be 'powershell.exe'
            $r.StdOut | Should -BeNullOrEmpty
            @(Get-ChildItem (Join-Path $Agent.Directory 'prefix/drive_c/windows/temp') -Filter 'qemuguest-script-*' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
        }
    }
}
