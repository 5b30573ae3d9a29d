# Every example a user can read runs (issue 17): the code of each example in Get-Help -Full of
# every cmdlet, and every prompt-marked line ("PS> ", continued by ">> ") of the module's about_
# topics, run as written against real agents behind the real relay: VM web01 is our agent, VM
# web02 is Debian's qemu-ga; $socketPath is a third agent's socket, for examples that connect
# to a socket directly. A failing example fails its case, named "<cmdlet>#<n>".
#
# What an example may assume is set up here, never by editing its text: every example starts in
# an empty scratch folder of its own (the local side), finds the relay's endpoints through
# $env:QEMUGUEST_RELAY_DIR, and may use the variables of $CommonSetup; an example that needs more
# gets a set-up in $Setup (by cmdlet, or by "cmdlet#n"). The "guests" see a private, empty /srv
# (a mount namespace of their own: Start-LocalAgent -PrivateFolder), so examples that write in
# the guest write there, never to this machine's /srv. Like a real guest's, that /srv keeps
# what earlier examples wrote: an example must give the same result when run again. Commands that would change this machine
# itself (shutdown, suspend, clock, passwords, freeze, vCPUs, memory blocks, fstrim, SSH keys) are
# blocked in both agents as a safety net; examples of those cmdlets run under -WhatIf
# ($WhatIfPreference in their set-up).
#
# Errors fail an example ($ErrorActionPreference = 'Stop'); output goes through Out-String, so the
# format views run too; each example is bounded to $ExampleTimeoutSec.

BeforeDiscovery {
    # Examples that cannot run on this machine, each with why. Nothing else may be skipped.
    $script:PendingGenerated = @{
        'Get-VMGuestDevice#1'           = 'guest-get-devices exists only in Windows agents (PCI driver list); both agents here run on Linux'
        'Get-VMGuestDevice#2'           = 'guest-get-devices exists only in Windows agents (PCI driver list); both agents here run on Linux'
        'Get-VMGuestWindowsRoute#1'     = '__com.qemuguest_guest-get-routes exists only in our Windows agent; both agents here run on Linux (the Wine row runs the command: WineAgentTests.Routes_come_from_the_extension_not_the_linux_only_command)'
        'Get-VMGuestWindowsRoute#2'     = '__com.qemuguest_guest-get-routes exists only in our Windows agent; both agents here run on Linux (the Wine row runs the command: WineAgentTests.Routes_come_from_the_extension_not_the_linux_only_command)'
        'Get-VMGuestSshAuthorizedKey#1' = 'reads a real account''s ~/.ssh/authorized_keys on this machine (the agents run here, not in a guest); no account here may be given one for a test'
        'Get-VMGuestSshAuthorizedKey#2' = 'reads a real account''s ~/.ssh/authorized_keys on this machine (the agents run here, not in a guest); no account here may be given one for a test'
    }

    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Examples = [Collections.Generic.List[hashtable]]::new()
    foreach ($c in Get-Command -Module QemuGuest -CommandType Cmdlet | Sort-Object Name) {
        $n = 0
        foreach ($e in @((Get-Help $c.Name -Full).Examples.Example)) {
            if ($null -eq $e) { continue }
            $n++
            # "PS C:\> " prompts start statements; lines without one continue the statement above.
            $code = (($e.Code -split "`r?`n") | ForEach-Object { $_ -replace '^\s*PS [^>]*>\s?', '' }) -join "`n"
            $key = "$($c.Name)#$n"
            $Examples.Add(@{ Key = $key; Topic = $c.Name; Code = $code; Pending = $PendingGenerated[$key] })
        }
    }
    $names = (Get-Command -Module QemuGuest -CommandType Cmdlet).Name -join '|'
    $script:Unmarked = [Collections.Generic.List[hashtable]]::new()
    foreach ($file in Get-ChildItem (Join-Path $env:QEMUGUEST_MODULE_PATH 'en-US') -Filter 'about_*.help.txt') {
        $topic = $file.Name -replace '\.help\.txt$', ''
        # Code without a prompt would never run here: a line that starts with one of our cmdlets
        # and goes on with a parameter or a pipe must be marked, and so must a command on a
        # QemuGuest drive (New-PSDrive -PSProvider QemuGuest, Get-Content web01:/...): the
        # provider's examples went unrun while only our cmdlets' names were looked for.
        $Unmarked.Add(@{ Topic = $topic; Lines = @(Get-Content $file.FullName | Where-Object {
                    $_ -match "^\s*($names)(\s+-\w|\s*\|)" -or $_ -match '^\s*[A-Z][a-z]+-[A-Z][A-Za-z]+\b.*(-PSProvider QemuGuest|\s[a-z][a-z0-9]*:[/\\])'
                }) })
        $n = 0
        $current = $null
        # A run of prompt lines (and their continuations) is one example, as typed at a prompt.
        foreach ($line in Get-Content $file.FullName) {
            if ($line -match '^\s*PS> (.*)$') {
                if (-not $current) {
                    $n++
                    $current = @{ Key = "$topic#$n"; Topic = $topic; Code = $Matches[1]; Pending = $false }
                }
                else { $current.Code += "`n" + $Matches[1] }
            }
            elseif ($current -and $line -match '^\s*>> (.*)$') {
                $current.Code += "`n" + $Matches[1]
            }
            elseif ($current) {
                $Examples.Add($current)
                $current = $null
            }
        }
        if ($current) { $Examples.Add($current) }
    }
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force

    $script:ExampleTimeoutSec = 60
    $blocked = 'guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-time,guest-set-user-password,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-set-vcpus,guest-set-memory-blocks,guest-fstrim,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys'
    $script:Ours = Start-LocalAgent -Kind Ours -PrivateFolder /srv -ExtraArguments @('-b', $blocked)
    $script:Stock = Start-LocalAgent -Kind Stock -PrivateFolder /srv -ExtraArguments @('-b', $blocked)
    $script:Relay = Start-LocalRelay -Vms ([ordered]@{ web01 = $Ours; web02 = $Stock })
    # The relay holds web01's and web02's agent sockets (an agent socket serves one client at a
    # time), so examples that connect to a socket directly get an agent of their own.
    $script:Direct = Start-LocalAgent -Kind Ours -PrivateFolder /srv -ExtraArguments @('-b', $blocked)
    $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
    $env:QEMUGUEST_RELAY_DIR = $Relay.RuntimeDirectory
    $script:ScratchRoot = Join-Path ([IO.Path]::GetTempPath()) ('qg-examples-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $ScratchRoot

    # Variables every example may use.
    $script:CommonSetup = @"
`$socketPath = '$($Direct.Socket)'   # an agent socket, as a VM's -chardev socket,path=... would be
"@

    # Set-ups of single examples (key "cmdlet#n") or of every example of a cmdlet (key "cmdlet").
    $script:Setup = @{
        # Listing and closing sessions shows something only when some are open.
        'Get-VMGuestSession'      = '$null = New-VMGuestSession -VMName web01, web02'
        'Remove-VMGuestSession#1' = '$null = New-VMGuestSession -VMName web01, web02'
        # Local files to copy into the guests.
        'Copy-VMGuestFile'        = @'
Set-Content ./nginx.conf 'worker_processes 2;'
$null = New-Item -ItemType Directory ./site/css
Set-Content ./site/index.html '<h1>web</h1>'
Set-Content ./site/css/main.css 'body { margin: 0 }'
'@
        # A guest folder to list, in both guests.
        'Get-VMGuestChildItem'    = @'
$null = New-Item -ItemType Directory ./site/css
Set-Content ./site/index.html '<h1>web</h1>'
Set-Content ./site/css/main.css 'body { margin: 0 }'
Copy-VMGuestFile -VMName web01, web02 -LocalToGuest ./site /srv/www/ -Recurse -Force
'@
        # A local folder, and the same folder already in both guests (copied, so with other times).
        'Sync-VMGuestItem'        = @'
$null = New-Item -ItemType Directory ./site/css
Set-Content ./site/index.html '<h1>web</h1>'
Set-Content ./site/css/main.css 'body { margin: 0 }'
Copy-VMGuestFile -VMName web01, web02 -LocalToGuest ./site /srv/www/ -Recurse -Force
'@
    }
    # The generated examples name values they cannot know as $variables ("$handle holds the value
    # of the parameter of the same name"): set here, as a user would have them, on web01 (our
    # agent: the extension commands). Guest files live in the private /srv.
    $guestFile = @'
Set-Content ./report.txt 'quarterly numbers'
Copy-VMGuestFile -VMName web01 -LocalToGuest ./report.txt /srv/report.txt -Force
Copy-VMGuestFile -VMName web01 -LocalToGuest ./report.txt /srv/notes.txt -Force
'@
    $handle = $guestFile + "`n" + '$handle = (Open-VMGuestFile -VMName web01 /srv/notes.txt r+).Handle'
    foreach ($name in 'Close-VMGuestFile', 'Read-VMGuestFile', 'Set-VMGuestFilePosition', 'Sync-VMGuestFile', 'Write-VMGuestFile') {
        $Setup[$name] = $handle
    }
    $Setup['Open-VMGuestFile'] = $guestFile
    $Setup['Set-VMGuestItemAttribute'] = $guestFile
    # Moves /srv/report.txt to /srv/report.old, which must not be there yet.
    $Setup['Move-VMGuestItem'] = $guestFile + "`nRemove-VMGuestItem -VMName web01 /srv/report.old -IgnoreMissing:`$true"
    $Setup['Remove-VMGuestItem'] = "Set-Content ./report.old 'old'`nCopy-VMGuestFile -VMName web01 -LocalToGuest ./report.old /srv/report.old -Force"
    $Setup['New-VMGuestDirectory'] = 'Remove-VMGuestItem -VMName web01 /srv/reports -IgnoreMissing:$true'
    $Setup['Start-VMGuestExec'] = '$path = ''/bin/true'''
    $Setup['Start-VMGuestExecStream'] = '$path = ''/bin/true'''
    # Running processes: a look (or two) finds them still there.
    $Setup['Get-VMGuestExecStatus'] = '$processId = (Start-VMGuestExec -VMName web01 /bin/sleep -ArgumentList 30).Pid'
    $Setup['Read-VMGuestExecStream'] = '$processId = (Start-VMGuestExecStream -VMName web01 /bin/sleep -ArgumentList 30).Pid'
    $Setup['Stop-VMGuestExec'] = '$processId = (Start-VMGuestExecStream -VMName web01 /bin/sleep -ArgumentList 30).Pid'
    # PowerShell Direct: the guest's PowerShell is this repository's pwsh (a dotnet tool, not on
    # PATH), behind a launcher in the example's folder; -PowerShellPath defaults to it.
    $Setup['New-VMGuestPSSession'] = @'
$dotnet = (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
"#!/bin/sh`nexec '$dotnet' '$(Join-Path $PSHOME 'pwsh.dll')' `"`$@`"`n" | Set-Content ./pwsh -NoNewline
& chmod 755 ./pwsh
$PSDefaultParameterValues['New-VMGuestPSSession:PowerShellPath'] = (Resolve-Path ./pwsh).Path
Set-Content ./app.conf 'listen 8080'
'@
    # Invoke-VMGuestScriptBlock: the same launcher, for its -PowerShellPath.
    $Setup['Invoke-VMGuestScriptBlock'] = @'
$dotnet = (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
"#!/bin/sh`nexec '$dotnet' '$(Join-Path $PSHOME 'pwsh.dll')' `"`$@`"`n" | Set-Content ./pwsh -NoNewline
& chmod 755 ./pwsh
$PSDefaultParameterValues['Invoke-VMGuestScriptBlock:PowerShellPath'] = (Resolve-Path ./pwsh).Path
'@
    $Setup['about_QemuGuest_PSDirect'] = $Setup['Invoke-VMGuestScriptBlock'] + "`n`$PSDefaultParameterValues['New-VMGuestPSSession:PowerShellPath'] = (Resolve-Path ./pwsh).Path"
    # A program that reads its streamed standard input.
    $Setup['Write-VMGuestExecStream'] = '$processId = (Start-VMGuestExecStream -VMName web01 /bin/cat -StreamInput).Pid'

    foreach ($name in 'Stop-VMGuest', 'Restart-VMGuest', 'Suspend-VMGuestToDisk', 'Suspend-VMGuestToRam', 'Suspend-VMGuestHybrid', 'Set-VMGuestTime',
        'Set-VMGuestUserPassword', 'Suspend-VMGuestFileSystem', 'Suspend-VMGuestMountPoint', 'Set-VMGuestProcessor',
        'Set-VMGuestMemoryBlock', 'Optimize-VMGuestFileSystem', 'Add-VMGuestSshAuthorizedKey', 'Remove-VMGuestSshAuthorizedKey') {
        # They would change this machine, not a scratch folder.
        $Setup[$name] = '$WhatIfPreference = $true'
    }
    # A user's public key where ssh-keygen puts it: ~ is the example's scratch folder (made
    # despite the -WhatIf set-up above, which is for the cmdlet only).
    foreach ($name in 'Add-VMGuestSshAuthorizedKey', 'Remove-VMGuestSshAuthorizedKey') {
        $Setup[$name] += @'

(Get-PSProvider FileSystem).Home = (Get-Location).ProviderPath
$null = New-Item -ItemType Directory ./.ssh -WhatIf:$false
Set-Content -WhatIf:$false ./.ssh/id_ed25519.pub 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFVQ6ICuAnhygmh6Qx2v2Ix3QcY8gYmGfVN5oXw2nN8L admin@laptop'
'@
    }
    # A password as a user would pass one (Read-Host -AsSecureString or Get-Credential prompt;
    # no one is there to answer here).
    $Setup['Set-VMGuestUserPassword'] += "`n`$password = ConvertTo-SecureString 'N0t-a-real-one' -AsPlainText -Force"

    # One runspace for the examples, apart from Pester's own, with the module as a user has it.
    $iss = [initialsessionstate]::CreateDefault2()
    $iss.ImportPSModule($env:QEMUGUEST_MODULE_PATH)
    $script:ExampleRunspace = [runspacefactory]::CreateRunspace($iss)
    $ExampleRunspace.Open()

    function script:Invoke-Example([string] $Key, [string] $Topic, [string] $Code) {
        $scratch = Join-Path $ScratchRoot ($Key -replace '[^A-Za-z0-9_-]', '_')
        $null = New-Item -ItemType Directory -Path $scratch
        $before = @(Get-VMGuestSession | ForEach-Object Id)
        $text = @(
            "Set-Location -LiteralPath '$scratch'"
            '$ErrorActionPreference = ''Stop'''
            '$ConfirmPreference = ''None''' # no one is there to answer; WhatIf set-ups still apply
            $CommonSetup
            $Setup[$Topic]
            $Setup[$Key]
            $Code
        ) -join "`n"
        $ps = [powershell]::Create()
        $ps.Runspace = $ExampleRunspace
        try {
            $null = $ps.AddScript($text, $true).AddCommand('Out-String')
            $async = $ps.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($ExampleTimeoutSec))) {
                $ps.Stop()
                throw "$Key did not finish within $ExampleTimeoutSec s"
            }
            try {
                $out = $ps.EndInvoke($async)
            }
            catch {
                $inner = $_.Exception
                while ($inner.InnerException) { $inner = $inner.InnerException }
                throw "$Key failed: $($inner.Message)`n--- code ---`n$Code"
            }
            if ($ps.Streams.Error.Count -gt 0) {
                throw "$Key wrote errors: $($ps.Streams.Error -join '; ')`n--- code ---`n$Code"
            }
            $out
        }
        finally {
            $ps.Dispose()
            # What the example opened or started is closed again, so the next one starts clean.
            Get-VMGuestSession | Where-Object Id -NotIn $before | Remove-VMGuestSession -Confirm:$false
            $cleanup = [powershell]::Create()
            $cleanup.Runspace = $ExampleRunspace
            $null = $cleanup.AddScript('Get-Job | Remove-Job -Force; Set-Location /; (Get-PSProvider FileSystem).Home = $HOME').Invoke()
            $cleanup.Dispose()
        }
    }
}

AfterAll {
    if ($script:ExampleRunspace) { $ExampleRunspace.Dispose() }
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $env:QEMUGUEST_RELAY_DIR = $script:SavedRelayDir
    $script:Relay | Stop-LocalRelay
    $script:Ours, $script:Stock, $script:Direct | Stop-LocalAgent
    if ($script:ScratchRoot) { Remove-Item -Recurse -Force $ScratchRoot -ErrorAction SilentlyContinue }
}

Describe 'Help examples' {
    It 'finds the examples (<AboutCount> in about_QemuGuest, <Count> in all)' -TestCases @(@{
            AboutCount = @($Examples | Where-Object { $_.Topic -eq 'about_QemuGuest' }).Count; Count = $Examples.Count
        }) {
        $AboutCount | Should -BeGreaterThan 0
        $Count | Should -BeGreaterThan 100
    }

    It '<Topic> marks every code line with PS>' -TestCases $Unmarked {
        $Lines | Should -BeNullOrEmpty
    }

    foreach ($example in $Examples) {
        It "$($example.Key) runs" -TestCases @($example) {
            if ($Pending) {
                Set-ItResult -Skipped -Because "it cannot run here: $Pending"
                return
            }
            $out = Invoke-Example -Key $Key -Topic $Topic -Code $Code
            # Shown in the detailed report, so a reviewer sees what the example printed.
            Write-Host ('        ' + ((($out -join '') -split "`n" | Select-Object -First 6 | ForEach-Object TrimEnd) -join "`n        "))
        }
    }
}
